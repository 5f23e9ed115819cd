using System.Diagnostics;
using FiRST.Runtime.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>
/// <c>dotnet pack</c> of the runtime gives one package with the generator under <c>analyzers/dotnet/cs</c> and
/// the props that pick up <c>*.first.json</c>; a fresh project that references it from a local folder feed
/// uses the attribute, builds and runs the generated code.
/// </summary>
/// <remarks>
/// The test packs what the test build already built (<c>--no-build</c>), so it never rewrites the in-tree
/// outputs that other test assemblies may be loading, and writes everything else (package, nuspec, the
/// consumer and its package folder) under a temporary folder. The consumer restores offline from exactly two
/// sources: the folder with the fresh package, and this machine's global packages folder, which the runtime's
/// own restore filled with the runtime's dependencies; the machine's configured feeds are cleared.
/// </remarks>
public sealed class PackageTests(ITestOutputHelper output)
{
    [Fact]
    public void ConsumerProjectBuildsAgainstThePackedRuntimeAndGenerator()
    {
        using var dir = new TempDir();
        string feed = dir.File("feed"), consumer = dir.File("consumer"), packages = dir.File("packages");
        // A test-only version, unique per run, so no cache can hold it already.
        string version = "0.0.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        // The configuration this test assembly was built in: the runtime and generator were built with it.
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        Assert.True(configuration is "Release" or "Debug", $"cannot tell the build configuration from {AppContext.BaseDirectory}");
        string project = Path.Combine(SharedModels.RepoRoot, "src", "FiRST.Runtime", "FiRST.Runtime.csproj");
        Run("dotnet", $"pack \"{project}\" --no-build -c {configuration} -o \"{feed}\" -p:Version={version} -p:NuspecOutputPath=\"{dir.File("nuspec")}/\" -nodeReuse:false", SharedModels.RepoRoot);
        Assert.True(File.Exists(Path.Combine(feed, $"FiRST.Runtime.{version}.nupkg")));
        Assert.Empty(Directory.GetFiles(Path.Combine(SharedModels.RepoRoot, "src", "FiRST.Runtime"), $"*{version}*", SearchOption.AllDirectories));

        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                                 ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        Directory.CreateDirectory(Path.Combine(consumer, "models"));
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
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
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="FiRST.Runtime" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        // No AdditionalFiles line: the package's props add *.first.json.
        File.Copy(Path.Combine(SharedModels.RepoRoot, "tests", "FiRST.Runtime.Tests", "Profiles", "stories260K.first.json"),
                  Path.Combine(consumer, "models", "demo.first.json"));
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), """
            using FiRST;

            Console.WriteLine($"{Demo.NLayers} {Demo.Dim} {string.Join(",", Demo.UsedLayers)} {Demo.PathFor(Demo.Task.Reverse).Mask}");

            [FiRSTModel("models/demo.first.json")]
            public partial class Demo;
            """);

        Run("dotnet", "build -c Release -nodeReuse:false -p:UseSharedCompilation=false", consumer);
        string printed = Run("dotnet", "run -c Release --no-build", consumer);
        Assert.Contains("5 64 0,1,2,4 10101", printed);
        // The consumer's packages went to the temporary folder, and its runtime came from the fresh package.
        Assert.True(Directory.Exists(Path.Combine(packages, "first.runtime", version)));
    }

    private string Run(string file, string arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The test host's MSBuild variables would point the child build at this test run.
        foreach (var key in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" }) start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {arguments} did not finish within 5 minutes");
        }
        // A build server that inherited the pipes could keep them open after the process ended; do not wait
        // for it forever.
        Assert.True(Task.WaitAll([stdout, stderr], TimeSpan.FromMinutes(1)), $"{file} {arguments}: its output did not end");
        output.WriteLine(stdout.Result);
        Assert.True(process.ExitCode == 0, $"{file} {arguments} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }
}
