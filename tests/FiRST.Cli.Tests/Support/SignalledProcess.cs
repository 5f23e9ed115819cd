using System.Diagnostics;
using System.Text;

namespace FiRST.Runtime.Tests.Support;

/// <summary>
/// Runs a tool (<c>first.dll</c>, <c>first-train.dll</c>) as a real process, waits for a sign of progress on its
/// output, sends it a POSIX signal and collects what it printed until it exits.
/// </summary>
/// <remarks>
/// The child runs through env(1) with the signal's default disposition: a process started in the background by a
/// non-interactive shell inherits SIGINT ignored, and .NET keeps a signal ignored that it found ignored, so the test
/// does not depend on how its runner was started. Both streams are read as they come (a child blocked on a full
/// pipe would never reach the signal); they complete only when the child exits, so nothing awaits them before.
/// Linked into FiRST.Training.Tests, where <c>first-train</c> runs.
/// </remarks>
internal static class SignalledProcess
{
    /// <summary>What the child printed and how it ended.</summary>
    /// <param name="Signalled">False when it ended before <c>ready</c> held, so no signal was sent.</param>
    public sealed record Result(bool Signalled, int ExitCode, string Stdout, string Stderr);

    /// <summary>
    /// Starts <c>dotnet <paramref name="dll"/> <paramref name="args"/></c>, sends <c>SIG<paramref name="signal"/></c>
    /// once <paramref name="ready"/> holds for (stdout, stderr) so far, and waits for the exit, all within
    /// <paramref name="limit"/> (past it the child is killed and <see cref="TimeoutException"/> thrown).
    /// </summary>
    public static async Task<Result> Run(string dll, string signal, Func<string, string, bool> ready, TimeSpan limit, params string[] args)
    {
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { $"--default-signal={signal}", "dotnet", Path.Combine(AppContext.BaseDirectory, dll) }.Concat(args))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(limit);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var progressed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new object();
        async Task Pump(StreamReader reader, StringBuilder into)
        {
            var buffer = new char[256];
            int n;
            while ((n = await reader.ReadAsync(buffer, timeout.Token)) > 0)
                lock (gate)
                {
                    into.Append(buffer, 0, n);
                    if (ready(stdout.ToString(), stderr.ToString())) progressed.TrySetResult();
                }
        }
        var pumps = Task.WhenAll(Pump(process.StandardOutput, stdout), Pump(process.StandardError, stderr));
        try
        {
            await Task.WhenAny(progressed.Task, pumps).WaitAsync(timeout.Token);
            bool signalled = progressed.Task.IsCompleted;
            if (signalled)
                using (var kill = Process.Start("kill", $"-{signal} {process.Id}")!) await kill.WaitForExitAsync(timeout.Token);
            await pumps;
            await process.WaitForExitAsync(timeout.Token);
            lock (gate) return new Result(signalled, process.ExitCode, stdout.ToString(), stderr.ToString());
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            string err;
            lock (gate) err = stderr.ToString();
            throw new TimeoutException($"SIG{signal}: {dll} {string.Join(' ', args)} did not end within {limit.TotalSeconds:F0} s; stderr: {err}");
        }
    }
}
