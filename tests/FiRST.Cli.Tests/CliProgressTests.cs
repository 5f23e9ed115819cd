using System.Diagnostics;
using System.Text.Json;
using FiRST.Cli.Reporting;
using FiRST.Evaluation;
using FiRST.Runtime.Tests.Support;
using Spectre.Console;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// Progress of the long commands: bars on a terminal, the plain lines everywhere else (a pipe, a log, a test's
/// writer), always on stderr.
/// </summary>
public sealed class CliProgressTests
{
    private static readonly PassProgress[] Reports =
    [
        new("lambda 0.1", 1, 3) { Loss = 2.5, Line = "lambda 0.1 step 1/3 summary" },
        new("lambda 0.1", 2, 3) { Loss = 2.25 },
        new("lambda 0.1", 3, 3) { Loss = 2.125, Line = "lambda 0.1 step 3/3 summary" },
        PassProgress.Note("wrote routers.bin"),
    ];

    [Fact]
    public void PlainProgressPrintsEachReportsLineAndNothingForBarOnlyReports()
    {
        var error = new StringWriter();
        int result = new PlainProgress(error).Run(report => { foreach (var p in Reports) report(p); return 7; });
        Assert.Equal(7, result);
        Assert.Equal("lambda 0.1 step 1/3 summary\nlambda 0.1 step 3/3 summary\nwrote routers.bin\n", error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ATestsWriterOrJsonGetsPlainLines()
    {
        Assert.IsType<PlainProgress>(ProgressReporter.For(new StringWriter()));
        // Even the process's own stderr, when a command's --json asks for plain lines.
        Assert.IsType<PlainProgress>(ProgressReporter.For(Console.Error, plain: true));
    }

    [Fact]
    public void SpectreBarsShowTheStageStepAndLossAndKeepOnlyTheFindings()
    {
        var terminal = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(terminal),
        });
        new SpectreProgress(console).Run(report => { foreach (var p in Reports) report(p); });
        string shown = terminal.ToString();
        Assert.Contains("lambda 0.1  loss 2.1250", shown);
        Assert.Contains("100%", shown);
        Assert.Contains("3/3", shown);
        Assert.Contains("wrote routers.bin", shown);
        // A step's summary is what the bar shows: not printed again.
        Assert.DoesNotContain("summary", shown);
    }

    [Fact]
    public void MakeModelAndQuantizeWriteTheirProgressAsPlainLinesOnStderr()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), JsonSerializer.Serialize(new { dim = 32, hidden_dim = 64, n_layers = 2, n_heads = 4, vocab_size = 64, max_seq_len = 32 }));
        string f32 = dir.File("f32.bin"), q8 = dir.File("q8.bin");
        var made = FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--out", f32);
        Assert.True(made.ExitCode == 0, made.Stderr);
        var lines = made.Stderr.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal($"writing {f32}: 100%", lines[^1]);
        Assert.All(lines, l => Assert.Matches(@"^writing .*: \d+%$", l));
        Assert.StartsWith("wrote ", made.Stdout);

        var quantized = FirstCli.Run("quantize", "--model", f32, "--out", q8);
        Assert.True(quantized.ExitCode == 0, quantized.Stderr);
        Assert.Equal($"quantizing {f32}\n", quantized.Stderr.ReplaceLineEndings("\n"));
        Assert.StartsWith($"wrote {q8}", quantized.Stdout);
    }

    [Fact]
    public async Task CalibrateWithItsOutputRedirectedPrintsPlainLinesWithoutEscapes()
    {
        using var dir = new TempDir();
        // A real process whose stdout and stderr are pipes, as in a script or CI log.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "first.dll"), "calibrate", "--routers", Path.Combine(AppContext.BaseDirectory, "demo", "model.routers.bin"),
                                     "--tasks", "copy", "--calibration-prompts", "3", "--prompts", "3", "--mask-only", "--out", dir.File("x.first.json") })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
        string stderr = await process.StandardError.ReadToEndAsync(limit.Token);
        await process.WaitForExitAsync(limit.Token);
        Assert.True(process.ExitCode == 0, stderr);

        var lines = stderr.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("copy: mask ", lines[0]);
        Assert.StartsWith("copy: exact match full ", lines[1]);
        Assert.DoesNotContain('\u001b', stderr);
        // stdout has the results only.
        string results = await stdout;
        Assert.Contains("| copy | ", results);
        Assert.DoesNotContain("copy: mask", results);
    }
}
