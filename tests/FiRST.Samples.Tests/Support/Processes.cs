using System.Diagnostics;

namespace FiRST.Samples.Tests.Support;

/// <summary>Runs a child process to the end, with a time limit, and returns its exit code and output.</summary>
internal static class Processes
{
    /// <summary>The exit code and stdout + stderr of <paramref name="file"/> run with <paramref name="args"/>.</summary>
    public static (int Code, string Output) Run(TimeSpan limit, string workingDirectory, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        // The test host's MSBuild variables would point a child build at this test run.
        foreach (var key in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" }) start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {limit}");
        }
        // A build server that inherited the pipes could keep them open after the process ended; do not wait forever.
        if (!Task.WaitAll([stdout, stderr], TimeSpan.FromMinutes(1)))
            throw new TimeoutException($"{file} {string.Join(' ', args)}: its output did not end");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
