using System.Text.Json;
using FiRST.Cli.Tests.Support;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first bench --paths</c>: the shape of its JSON and that it measured the paths the profile names. Speed
/// itself belongs to the benchmark's runs on an idle machine, not to a test.
/// </summary>
public sealed class CliPathBenchTests
{
    [Fact]
    public void PathsJsonNamesEveryTaskWithItsMaskPathAndFiniteMedians()
    {
        var r = FirstCli.Run("bench", "--paths", "--threads", "2", "--rounds", "20", "--steps", "4", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("threads").GetInt32());
        var paths = root.GetProperty("paths").EnumerateArray().ToArray();
        // The embedded profile's four tasks, each on the compiled path of its mask.
        Assert.Equal(["copy", "reverse", "sort", "add4"], paths.Select(p => p.GetProperty("task").GetString()!));
        Assert.Equal(["11111000", "11111010", "11111000", "11110000"], paths.Select(p => p.GetProperty("mask").GetString()!));
        Assert.Equal(["CopyPath", "ReversePath", "CopyPath", "Add4Path"], paths.Select(p => p.GetProperty("path").GetString()!));
        foreach (var p in paths)
        {
            foreach (string field in new[] { "generic_ms_per_token", "generated_ms_per_token", "full_ms_per_token", "speedup", "ci_low", "ci_high" })
            {
                double v = p.GetProperty(field).GetDouble();
                Assert.True(double.IsFinite(v) && v > 0, $"{field} = {v}");
            }
            // The median lies inside its own interval.
            Assert.InRange(p.GetProperty("speedup").GetDouble(), p.GetProperty("ci_low").GetDouble(), p.GetProperty("ci_high").GetDouble());
        }
    }

    [Fact]
    public void PlotsDrawTokensPerSecondByPathAndLeaveTheJsonAlone()
    {
        using var dir = new TempDir();
        string plots = dir.File("plots");
        var r = FirstCli.Run("bench", "--paths", "--threads", "1", "--rounds", "20", "--steps", "4", "--json", "--plots", plots);
        Assert.True(r.ExitCode == 0, r.Stderr);
        // stdout is the one JSON object and nothing else: the chart's lines and the progress go to stderr.
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(4, doc.RootElement.GetProperty("paths").GetArrayLength());
        Assert.DoesNotContain("wrote", r.Stdout);
        Assert.DoesNotContain("round 1/", r.Stdout);
        string png = Path.Combine(plots, "tokens-per-second.png"), svg = Path.Combine(plots, "tokens-per-second.svg");
        Assert.Contains($"wrote {png}", r.Stderr);
        var (width, height) = PngFile.Check(png);
        Assert.InRange(width, 600, 3000);
        Assert.InRange(height, 300, 2000);
        // The SVG names every task and path (full model, generic loop on the mask, compiled path).
        string text = File.ReadAllText(svg);
        Assert.Contains("<svg", text);
        foreach (string name in new[] { "copy", "reverse", "sort", "add4", "full model (generic loop)", "task mask (generic loop)", "compiled task path" })
            Assert.Contains(name, text);

        // Without --json, the lines go to stdout after the table.
        var table = FirstCli.Run("bench", "--paths", "--threads", "1", "--rounds", "20", "--steps", "4", "--plots", plots);
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Contains($"wrote {png}", table.Stdout);
    }

    [Fact]
    public void PlotsWithExportIsRefusedInOneLine()
    {
        using var dir = new TempDir();
        var r = FirstCli.Run("bench", "--export", dir.Path, "--plots", dir.File("plots"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("first: error: --plots draws decode tokens/s by path; --export measures cold starts and memory, which it does not chart", r.Stderr.Trim());
        Assert.False(Directory.Exists(dir.File("plots")));
    }

    [Fact]
    public void PathsOnAModelWithoutCompiledPathsSaysSoInOneLine()
    {
        using var dir = new TempDir();
        string model = dir.File("m.bin");
        TestModel.Random(new Runtime.ModelConfig { Dim = 32, HiddenDim = 64, NLayers = 2, NHeads = 4, NKvHeads = 4, VocabSize = 40, MaxSeqLen = 16 }, seed: 3).WriteLlama2c(model);
        File.WriteAllText(dir.File("p.first.json"), """
            { "schema": "first.profile/1",
              "model": { "architecture": "llama", "dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4,
                         "vocab_size": 40, "max_seq_len": 16, "norm_eps": 1e-5, "rope_theta": 10000, "shared_classifier": true },
              "tasks": [ { "name": "one", "kept_layers": [0] } ] }
            """);
        var r = FirstCli.Run("bench", "--paths", "--model", model, "--profile", dir.File("p.first.json"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.True(r.Stderr.Contains("m.bin: first has no compiled paths for this model's shape"), r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void PathsOnAnotherModelNeedsAProfile()
    {
        var r = FirstCli.Run("bench", "--paths", "--model", SharedModels.Stories260K);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--paths on a model other than the embedded one needs --profile", r.Stderr);
    }
}
