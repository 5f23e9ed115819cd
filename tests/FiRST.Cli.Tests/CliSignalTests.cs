using System.Diagnostics;
using System.Text.Json;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// Ctrl+C and SIGTERM, sent to a real <c>first</c> process: generation stops within a token, the text so far
/// and the statistics line (<c>stop: Cancelled</c>) are printed, and the exit code is 130.
/// </summary>
public sealed class CliSignalTests
{
    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_signal_stops_generate_with_its_statistics_and_exit_code_130(string signal)
    {
        if (!OperatingSystem.IsLinux()) return; // kill(1) and POSIX signals
        SharedModels.Require();
        using var dir = new TempDir();
        // A tiny model with a long context: generating all of it would take tens of seconds. (With this seed and
        // prompt the greedy text does not reach BOS, where a llama2.c-style run stops.)
        string shape = Path.Combine(dir.Path, "shape.json");
        File.WriteAllText(shape, JsonSerializer.Serialize(new { dim = 64, hidden_dim = 172, n_layers = 4, n_heads = 4, n_kv_heads = 4, vocab_size = 512, max_seq_len = 32768 }));
        string model = Path.Combine(dir.Path, "long.bin");
        var made = FirstCli.Run("make-model", "--shape", shape, "--seed", "1", "--out", model);
        Assert.True(made.ExitCode == 0, made.Stderr);

        // Through env(1) with the signal's default disposition: a process started in the background by a
        // non-interactive shell inherits SIGINT ignored, and .NET keeps a signal ignored that it found ignored,
        // so the test does not depend on how its runner was started.
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { $"--default-signal={signal}", "dotnet", Path.Combine(AppContext.BaseDirectory, "first.dll"), "generate", "--model", model,
                                     "--tokenizer", SharedModels.Tok512, "--steps", "0", "--threads", "1", "--temperature", "0", "--prompt", "Once upon a time" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            var stderr = process.StandardError.ReadToEndAsync(limit.Token);
            // Wait for the echoed prompt and a few generated tokens, so the signal arrives while tokens are decoded.
            var seen = new System.Text.StringBuilder();
            var buffer = new char[64];
            while (seen.Length < "Once upon a time".Length + 20)
            {
                int n = await process.StandardOutput.ReadAsync(buffer, limit.Token);
                // (stderr is awaited only here: it completes when the process ends.)
                if (n == 0) Assert.Fail("the process ended before generating: " + await stderr);
                seen.Append(buffer, 0, n);
            }
            using (var kill = Process.Start("kill", $"-{signal} {process.Id}")!) await kill.WaitForExitAsync(limit.Token);
            string rest = await process.StandardOutput.ReadToEndAsync(limit.Token);
            await process.WaitForExitAsync(limit.Token);
            string err = await stderr;
            Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}: {err}");
            Assert.Contains("stop: Cancelled", err);
            Assert.StartsWith("Once upon a time", seen.ToString());
            Assert.EndsWith("\n", rest);
            // It stopped long before the end of the 32768-position context.
            var decode = System.Text.RegularExpressions.Regex.Match(err, @"decode: (\d+) tokens");
            Assert.True(decode.Success, err);
            Assert.InRange(int.Parse(decode.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 30_000);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"SIG{signal}: the process did not stop within 90 s");
        }
    }
}
