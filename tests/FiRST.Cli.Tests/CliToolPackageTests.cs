using System.Diagnostics;
using System.IO.Compression;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first</c> as a .NET tool: <c>dotnet pack</c> gives a tool package with the demo model inside and no
/// libtorch, and a tool installed from it into a tool path runs the main job.
/// </summary>
public sealed class CliToolPackageTests
{
    [Fact]
    public async Task The_packed_tool_installs_from_a_folder_feed_and_answers_a_demo_prompt()
    {
        string repo = RepositoryRoot();
        using var dir = new TempDir();
        string feed = dir.File("feed"), tools = dir.File("tools");
        // The solution is built (Release) before the tests run; pack what was built.
        var pack = await Run("dotnet", "pack", Path.Combine(repo, "src", "FiRST.Cli", "FiRST.Cli.csproj"), "-c", "Release", "--no-build", "-o", feed);
        Assert.True(pack.Code == 0, pack.Output);
        string package = Assert.Single(Directory.GetFiles(feed, "FiRST.Cli.*.nupkg"));
        Assert.InRange(new FileInfo(package).Length, 1, 20L << 20);
        using (var zip = ZipFile.OpenRead(package))
        {
            var names = zip.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains(names, n => n.EndsWith("/demo/model.bin", StringComparison.Ordinal));
            Assert.Contains(names, n => n.EndsWith("/first.dll", StringComparison.Ordinal));
            Assert.DoesNotContain(names, n => n.Contains("torch", StringComparison.OrdinalIgnoreCase));
        }

        var install = await Run("dotnet", "tool", "install", "FiRST.Cli", "--tool-path", tools, "--add-source", feed);
        Assert.True(install.Code == 0, install.Output);
        var answer = await Run(Path.Combine(tools, OperatingSystem.IsWindows() ? "first.exe" : "first"), "generate", "--prompt", "copy abc =>", "--temperature", "0");
        Assert.True(answer.Code == 0, answer.Output);
        Assert.Contains("copy abc => abc", answer.Output);
        Assert.Contains("path: CopyPath (pinned)", answer.Output);
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "FiRST.Gen.sln"))) return d.FullName;
        throw new InvalidOperationException("FiRST.Gen.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int Code, string Output)> Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
