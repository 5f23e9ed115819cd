using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// Commands that write files, run in-process with a token that is already cancelled (as after Ctrl+C): each says
/// what it did not write, ends with the one <c>stop: Cancelled</c> line and exit code 130, and leaves no
/// half-written file behind. (CliSignalTests sends real signals to real processes.)
/// </summary>
public sealed class CliCancellationTests
{
    private static (int ExitCode, string Stdout, string Stderr) RunCancelled(params string[] args)
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error, () => new MemoryStream(), cancelled.Token);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Cancelled_make_model_and_quantize_leave_no_file()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "m.bin");
        var made = RunCancelled("make-model", "--shape", "15M", "--out", model);
        Assert.True(made.ExitCode == CliErrors.Cancelled, made.Stderr);
        Assert.EndsWith($"not written: {model}\nfirst: stop: Cancelled\n", made.Stderr.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(model));

        SharedModels.Require();
        string q8 = Path.Combine(dir.Path, "q8.bin");
        var quantized = RunCancelled("quantize", "--model", SharedModels.Stories260K, "--out", q8);
        Assert.True(quantized.ExitCode == CliErrors.Cancelled, quantized.Stderr);
        Assert.EndsWith($"not written: {q8}\nfirst: stop: Cancelled\n", quantized.Stderr.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(q8));
    }

    [Fact]
    public void Cancelled_calibrate_writes_no_profile()
    {
        using var dir = new TempDir();
        string profile = Path.Combine(dir.Path, "p.first.json");
        var r = RunCancelled("calibrate", "--routers", Commands.CommonOptions.DefaultRoutersPath, "--out", profile, "--calibration-prompts", "4", "--prompts", "4");
        Assert.True(r.ExitCode == CliErrors.Cancelled, r.Stderr);
        Assert.EndsWith($"not written: {profile}\nfirst: stop: Cancelled after 0 of 4 tasks' masks\n", r.Stderr.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(profile));
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Cancelled_bench_draws_no_chart()
    {
        using var dir = new TempDir();
        string plots = Path.Combine(dir.Path, "plots");
        var r = RunCancelled("bench", "--paths", "--threads", "1", "--rounds", "20", "--steps", "4", "--plots", plots);
        Assert.True(r.ExitCode == CliErrors.Cancelled, r.Stderr);
        Assert.Contains($"not written: {plots}\nfirst: stop: Cancelled", r.Stderr.ReplaceLineEndings("\n"));
        Assert.False(Directory.Exists(plots));
    }
}
