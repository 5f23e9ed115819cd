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
public sealed class PackageTests(ITestOutputHelper output)
{
    [Fact]
    public void ConsumerProjectBuildsAgainstThePackedRuntimeAndGenerator()
    {
        using var dir = new TempDir();
        string feed = dir.File("feed"), consumer = dir.File("consumer");
        // A version no cache can hold already, so the consumer gets this build's package.
        string version = "0.0.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        string project = Path.Combine(SharedModels.RepoRoot, "src", "FiRST.Runtime", "FiRST.Runtime.csproj");
        Run("dotnet", $"pack \"{project}\" -c Release -o \"{feed}\" -p:Version={version}", SharedModels.RepoRoot);
        Assert.True(File.Exists(Path.Combine(feed, $"FiRST.Runtime.{version}.nupkg")));

        Directory.CreateDirectory(Path.Combine(consumer, "models"));
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
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

        try
        {
            Run("dotnet", "build -c Release", consumer);
            string printed = Run("dotnet", "run -c Release --no-build", consumer);
            Assert.Contains("5 64 0,1,2,4 10101", printed);
        }
        finally
        {
            // Keep the machine's package cache free of test versions.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                           ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            try { Directory.Delete(Path.Combine(cache, "first.runtime", version), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
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
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), $"{file} {arguments} did not finish");
        output.WriteLine(stdout.Result);
        Assert.True(process.ExitCode == 0, $"{file} {arguments} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }
}
