using System.Text.Json;
using System.Text.RegularExpressions;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// Ctrl+C and SIGTERM, sent to a real <c>first</c> process: generation stops within a token, the text so far
/// and the statistics line (<c>stop: Cancelled</c>) are printed, and the exit code is 130; bench and eval stop
/// within a token or prompt with one <c>stop: Cancelled</c> line and 130 too.
/// </summary>
public sealed class CliSignalTests
{
    /// <summary>Far below what any of the full runs would take; a stuck child is killed there.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

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

        var r = await SignalledProcess.Run("first.dll", signal, (stdout, _) => stdout.Length >= "Once upon a time".Length + 20, Limit,
            "generate", "--model", model, "--tokenizer", SharedModels.Tok512, "--steps", "0", "--threads", "1", "--temperature", "0", "--prompt", "Once upon a time");
        Assert.True(r.Signalled, "the process ended before generating: " + r.Stderr);
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Contains("stop: Cancelled", r.Stderr);
        // The text so far, then the newline that ends it.
        Assert.StartsWith("Once upon a time", r.Stdout);
        Assert.EndsWith("\n", r.Stdout);
        // It stopped long before the end of the 32768-position context.
        var decode = Regex.Match(r.Stderr, @"decode: (\d+) tokens");
        Assert.True(decode.Success, r.Stderr);
        Assert.InRange(int.Parse(decode.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 30_000);
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_signal_stops_bench_between_tokens_with_exit_code_130(string signal)
    {
        if (!OperatingSystem.IsLinux()) return;
        // 100000 runs of the embedded model take about half an hour; the signal comes after the second.
        var r = await SignalledProcess.Run("first.dll", signal, (_, stderr) => stderr.Contains("run 2/"), Limit, "bench", "--runs", "100000", "--threads", "1");
        Assert.True(r.Signalled, "bench ended before its second run: " + r.Stderr);
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}: {r.Stderr}");
        // The runs so far stay on stderr; the last line says how far it got, and no table was printed.
        var stop = Regex.Match(r.Stderr.ReplaceLineEndings("\n"), @"first: stop: Cancelled after (\d+) of 100000 runs\n$");
        Assert.True(stop.Success, r.Stderr);
        Assert.Equal("", r.Stdout);
        // It stopped where the signal found it (after run 2), not after the runs it was asked for: counted, not timed.
        Assert.InRange(int.Parse(stop.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 99);
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_signal_stops_eval_between_prompts_without_writing_its_json(string signal)
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        string json = Path.Combine(dir.Path, "eval.json");
        // Every task at every exit layer: 32 progress lines of about two seconds each; the signal comes after the first.
        var r = await SignalledProcess.Run("first.dll", signal, (_, stderr) => stderr.Contains("exit after layer 1/"), Limit, "eval", "--prompts", "500", "--json", json);
        Assert.True(r.Signalled, "eval ended before its first line: " + r.Stderr);
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.EndsWith($"not written: {json}\nfirst: stop: Cancelled\n", r.Stderr.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(json));
        Assert.InRange(Regex.Matches(r.Stderr, "exit after layer").Count, 1, 31); // stopped before its 32 lines
    }
}
