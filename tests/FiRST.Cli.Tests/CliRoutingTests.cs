using FiRST.Runtime.Profiles;
using FiRST.Runtime.Routing;
using FiRST.Cli.Tests.Support;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>The CLI's FiRST commands: generate with routers, train-routers, calibrate.</summary>
public sealed class CliRoutingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string DefaultRouters => Path.Combine(AppContext.BaseDirectory, "demo", "model.routers.bin");

    [Fact]
    public void GenerateOnTheEmbeddedModelTakesTheTaskPathOfThePromptOrRoutes()
    {
        // A prompt of a task's form runs that task's generated path, on the mask calibration chose for it.
        var r = FirstCli.Run("generate", "--prompt", "copy kqz1 =>", "--temperature", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("copy kqz1 => kqz1\n", System.Text.Encoding.UTF8.GetString(r.StdoutBytes));
        Assert.Contains("| layers: 11111000 | path: CopyPath", r.Stderr);
        Assert.Contains("task: copy (the prompt's form)", r.Stderr);
        Assert.DoesNotContain("routers:", r.Stderr);

        // Pinned by its form, reverse runs its own path on its own mask.
        var reverse = FirstCli.Run("generate", "--prompt", "reverse hello =>", "--temperature", "0");
        Assert.Equal("reverse hello => olleh\n", System.Text.Encoding.UTF8.GetString(reverse.StdoutBytes));
        Assert.Contains("path: ReversePath", reverse.Stderr);
        var add = FirstCli.Run("generate", "--prompt", "1234+5678=", "--temperature", "0");
        Assert.Equal("1234+5678= 6912\n", System.Text.Encoding.UTF8.GetString(add.StdoutBytes));
        Assert.Contains("| layers: 11110000 | path: Add4Path", add.Stderr);
        // A prompt of another task is refused under --task unless sent raw: then the pinned path runs it.
        var pinned = FirstCli.Run("generate", "--prompt", "copy kqz1 =>", "--temperature", "0", "--task", "sort", "--raw-prompt");
        Assert.Contains("| layers: 11111000 | path: SortPath", pinned.Stderr); // sort has its own path though it shares copy's mask
        Assert.Contains("task: sort (--task)", pinned.Stderr);

        // Anything else, or --routers, lets the routers choose: the stats say what they skipped.
        foreach (var routed in new[]
        {
            FirstCli.Run("generate", "--prompt", "hello", "--temperature", "0", "--raw-prompt"),
            FirstCli.Run("generate", "--prompt", "copy kqz1 =>", "--temperature", "0", "--routers", DefaultRouters),
        })
        {
            Assert.True(routed.ExitCode == 0, routed.Stderr);
            var line = routed.Stderr.Split('\n').Single(l => l.StartsWith("routers: "));
            Assert.Matches(@"^routers: mask [01]{8} \(skipped: [0-9,]+\); p = \[([01]\.\d\d, ){7}[01]\.\d\d\]", line);
            Assert.Matches(@"\| path: (CopyPath|ReversePath|SortPath|Add4Path|FullPath|generic) \((exact|superset|dynamic)\)\n", routed.Stderr);
        }

        var plain = FirstCli.Run("generate", "--prompt", "copy kqz1 =>", "--temperature", "0", "--routers", "none");
        Assert.DoesNotContain("routers:", plain.Stderr);
        Assert.Contains("layers: 11111111 | path: FullPath", plain.Stderr);

        var unknown = FirstCli.Run("generate", "--prompt", "copy kqz1 =>", "--task", "translate");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no task 'translate'", unknown.Stderr);
        var both = FirstCli.Run("generate", "--prompt", "copy kqz1 =>", "--task", "copy", "--routers", DefaultRouters);
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("give --task or --routers, not both", both.Stderr);
    }

    [Fact]
    public void RouterFilesThatDoNotFitGiveOneLineErrors()
    {
        string wrong = _dir.File("wrong.routers.bin");
        new RouterSet(3, 64, new float[3 * 64], new float[3]).Save(wrong);
        var r = FirstCli.Run("generate", "--routers", wrong, "--prompt", "12+3=");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("wrong.routers.bin", r.Stderr);
        Assert.Contains("the routers are for 3 layers of width 64", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);

        File.WriteAllBytes(wrong, [1, 2, 3]);
        r = FirstCli.Run("calibrate", "--routers", wrong, "--out", _dir.File("x.first.json"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("shorter than the 20-byte header", r.Stderr);

        string empty = _dir.File("empty.jsonl");
        File.WriteAllText(empty, "");
        r = FirstCli.Run("calibrate", "--routers", DefaultRouters, "--tasks", empty, "--out", _dir.File("x.first.json"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("the task file holds no examples", r.Stderr);

        foreach (string drop in new[] { "-1", "101", "NaN" })
        {
            r = FirstCli.Run("calibrate", "--routers", DefaultRouters, "--max-drop", drop, "--out", _dir.File("x.first.json"));
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("--max-drop must be within [0, 100] points", r.Stderr);
        }
        r = FirstCli.Run("calibrate", "--routers", DefaultRouters, "--mask-search", "exhaustive", "--out", _dir.File("x.first.json"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Argument 'exhaustive' not recognized", r.Stderr);
    }

    [Fact]
    public void CalibrateCanSearchMasksByElimination()
    {
        string profilePath = _dir.File("elim.first.json");
        var r = FirstCli.Run("calibrate", "--routers", DefaultRouters, "--tasks", "sort", "--calibration-prompts", "6", "--prompts", "2",
                             "--max-drop", "5", "--mask-search", "elimination", "--mask-only", "--out", profilePath);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string mask = ModelProfile.Load(profilePath).Tasks[0].Mask(8).ToString();
        // Every mask of seven layers is measured in the first round, so at least eight are tried.
        var line = r.Stderr.Split('\n').Single(l => l.Contains("the leanest within 5 points is " + mask, StringComparison.Ordinal));
        int tried = int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"\((\d+) masks tried\)").Groups[1].Value);
        Assert.True(tried >= 8, line);
    }

    [Fact]
    public void CalibrateWritesTheProfileTableAndPlots()
    {
        string profilePath = _dir.File("demo.first.json"), plots = _dir.File("plots");
        var r = FirstCli.Run("calibrate", "--routers", DefaultRouters, "--tasks", "copy,sort", "--calibration-prompts", "6", "--prompts", "6",
                             "--max-drop", "0.5", "--out", profilePath, "--plots", plots);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var profile = ModelProfile.Load(profilePath);
        Assert.Equal(["copy", "sort"], profile.Tasks.Select(t => t.Name));
        Assert.Equal(6, profile.Tasks[0].Prompts);
        Assert.NotNull(profile.Routers);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(profilePath)!, profile.Routers!.File)), profile.Routers.File);
        Assert.Contains("| copy | ", r.Stdout);
        // --max-drop 0.5 is half a point: the search says what it tried for each task.
        Assert.Contains("the leanest within 0.5 points is ", r.Stderr);
        Assert.True(File.Exists(Path.Combine(plots, "router-heatmap.svg")));
        Assert.True(File.Exists(Path.Combine(plots, "latency.svg")));
        // Beside the SVGs, the same two pictures as PNG (ScottPlot), each a whole picture of a plausible size.
        foreach (string name in new[] { "router-heatmap.png", "latency.png" })
        {
            string png = Path.Combine(plots, name);
            Assert.Contains($"wrote {png}", r.Stdout);
            var (width, height) = PngFile.Check(png);
            Assert.InRange(width, 400, 3000);
            Assert.InRange(height, 200, 2000);
        }
    }

    [Fact]
    public void ProfilesThatDoNotFitOrLackTheTaskGiveOneLineErrors()
    {
        SharedModels.Require();
        // The stories260K test profile against the embedded model: another shape.
        string stories = Path.Combine(SharedModels.RepoRoot, "tests", "FiRST.Runtime.Tests", "Profiles", "stories260K.first.json");
        var r = FirstCli.Run("generate", "--profile", stories, "--task", "copy", "--prompt", "12+3=");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("the profile is for a model of dim 64", r.Stderr);

        r = FirstCli.Run("generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512, "--profile", stories, "--task", "nope");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no task 'nope' in the profile; it has: ", r.Stderr);

        string bad = _dir.File("bad.first.json");
        File.WriteAllText(bad, File.ReadAllText(stories).Replace("\"kept_layers\": [0, 1, 2, 4]", "\"kept_layers\": [0, 1, 2, 9]"));
        r = FirstCli.Run("generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512, "--profile", bad, "--task", "Copy");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("bad.first.json", r.Stderr);

        r = FirstCli.Run("generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512, "--profile", stories, "--task", "Copy",
                         "--temperature", "0", "--steps", "20");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("layers: ", r.Stderr);
        Assert.DoesNotContain("layers: 11111", r.Stderr);
    }
}
