using FiRST.Runtime.Tests.Support;
using FiRST.Samples.Tests.Support;
using Xunit;

namespace FiRST.Samples.Tests;

/// <summary>
/// samples/FiRST.Snapshots, a user's snapshot test of the demo's generated code, passes against FiRST.Runtime
/// and FiRST.Gen.Testing packed from this build into a folder feed, as a user's test project consumes them.
/// </summary>
/// <remarks>
/// Both packages are packed from what the test build built (<c>--no-build</c>, so no in-tree output is
/// rewritten while other test assemblies load it) with a version unique to the run, so no cache holds it. The
/// sample restores offline from exactly two sources: the fresh feed and this machine's global packages folder
/// (which the repository's own restore filled with xunit, Shouldly and Roslyn), into a packages folder of its
/// own; its build outputs go to the temporary folder too (<c>--artifacts-path</c>). The approved snapshot is
/// the sample's own, in samples/FiRST.Snapshots/Snapshots; a mismatch leaves a <c>*.received.txt</c> there.
/// </remarks>
public sealed class SnapshotSampleTests
{
    private static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(3);

    [Fact]
    public void The_snapshot_sample_passes_against_the_packed_packages()
    {
        using var dir = new TempDir();
        string feed = dir.File("feed"), packages = dir.File("packages"), artifacts = dir.File("artifacts"), config = dir.File("nuget.config");
        string version = "0.0.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        string root = Repository.Root, configuration = Repository.Configuration;
        Assert.True(configuration is "Release" or "Debug", $"cannot tell the build configuration from {AppContext.BaseDirectory}");

        foreach (string project in new[] { "src/FiRST.Runtime/FiRST.Runtime.csproj", "src/FiRST.Gen.Testing/FiRST.Gen.Testing.csproj" })
            Succeed(Processes.Run(StepLimit, root, "dotnet", "pack", Path.Combine(root, project), "--no-build", "-c", configuration, "-o", feed,
                $"-p:Version={version}", $"-p:NuspecOutputPath={dir.File("nuspec")}/", "-nodeReuse:false"));
        Assert.True(File.Exists(Path.Combine(feed, $"FiRST.Gen.Testing.{version}.nupkg")));

        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                                 ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{packages}" />
              </config>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="machine-packages" value="{machinePackages}" />
              </packageSources>
            </configuration>
            """);

        string sample = Path.Combine(root, "samples", "FiRST.Snapshots", "FiRST.Snapshots.csproj");
        string[] common = ["--artifacts-path", artifacts, $"-p:FiRSTVersion={version}", "-nodeReuse:false"];
        Succeed(Processes.Run(StepLimit, root, "dotnet", ["restore", sample, "--configfile", config, .. common]));
        var test = Succeed(Processes.Run(StepLimit, root, "dotnet", ["test", sample, "-c", "Release", "--no-restore", "-p:UseSharedCompilation=false", .. common]));

        Assert.Contains("Passed!  - Failed:     0, Passed:     2", test);
        // The generator that ran was the one from the fresh package, restored into the temporary folder.
        Assert.True(Directory.Exists(Path.Combine(packages, "first.gen.testing", version)));
    }

    private static string Succeed((int Code, string Output) run)
    {
        Assert.True(run.Code == 0, run.Output);
        return run.Output;
    }
}
