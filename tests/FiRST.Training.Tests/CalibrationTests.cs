using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Calibration;
using FiRST.Training.Tasks;
using Xunit;

namespace FiRST.Training.Tests;

/// <summary>The calibration pass: mask choice, measurements, the profile it writes, task files.</summary>
public sealed class CalibrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("first-cal").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheMaskIsTheCommonestOneWidenedByLayersKeptOften()
    {
        var counts = new Dictionary<string, int> { ["1100"] = 6, ["1110"] = 3, ["1001"] = 1 };
        // Layer 2 is kept on 3 of 10 prompts (> 10%), layer 3 on 1 (not more than 10%).
        int[] kept = [10, 9, 3, 1];
        Assert.Equal("1110", TaskCalibration.ChooseMask(counts, kept, 10, keepShare: 0.1).ToString());
        Assert.Equal("1100", TaskCalibration.ChooseMask(counts, kept, 10, keepShare: 0.5).ToString());
        Assert.Equal("1111", TaskCalibration.ChooseMask(counts, kept, 10, keepShare: 0).ToString());
        // Ties go to the mask that keeps more layers.
        Assert.Equal("1110", TaskCalibration.ChooseMask(new Dictionary<string, int> { ["1100"] = 2, ["1110"] = 2 }, [4, 4, 2, 0], 4, 1).ToString());
        // Never an empty mask: the most used layer stays.
        Assert.Equal("0100", TaskCalibration.ChooseMask(new Dictionary<string, int> { ["0000"] = 5 }, [0, 1, 0, 0], 6, 0.5).ToString());
    }

    /// <summary>The embedded model, its tokenizer and its routers, as committed in <c>models/demo</c>.</summary>
    private static (LlamaModel Model, TextTokenizer Tokenizer, RouterSet Routers) EmbeddedModel()
    {
        string dir = DefaultModelTests.ModelDirectory;
        return (LlamaModel.Load(Path.Combine(dir, "model.bin")), TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin")),
                RouterSet.Load(Path.Combine(dir, "model.routers.bin")));
    }

    [Fact]
    public void TheLadderKeepsTheLayersInTheOrderTheRoutersUsedThem()
    {
        // Kept on 9 prompts: layers 1 and 4 (4 has the higher mean probability); on 5: layer 3; on 3: layers 0
        // and 2 (the same mean probability: the shallower first); never: layer 5.
        var ladder = TaskCalibration.Ladder([3, 9, 3, 5, 9, 0], [0.4, 0.8, 0.4, 0.6, 0.9, 0.1]);
        Assert.Equal(["000010", "010010", "010110", "110110", "111110", "111111"], ladder.Select(m => m.ToString()));
    }

    [Fact]
    public void WithAnExactMatchBudgetEachTaskGetsTheLeanestMaskOfTheLadderWithinIt()
    {
        var (model, tokenizer, routers) = EmbeddedModel();
        using var _ = model;
        var tasks = new[] { TaskGenerator.Find("copy"), TaskGenerator.Find("add4") };
        var reports = new List<PassProgress>();
        foreach (double drop in new[] { 0.0, 0.01, 1.0 })
        {
            var o = new CalibrationOptions { CalibrationPrompts = 20, HeldOutPrompts = 4, LatencyRepetitions = 1, LatencyTokens = 2, MaxExactMatchDrop = drop };
            var (profile, details) = TaskCalibration.Run(model, tokenizer, routers, "model.routers.bin", tasks, o, reports.Add);
            foreach (var (task, detail) in profile.Tasks.Zip(details))
            {
                var ladder = detail.Ladder!;
                Assert.Equal(CalibrationDetail.FullModelName, ladder[0].Mask);
                double full = ladder[0].ExactMatch;
                // The chosen mask is the last one tried and within the budget; every one tried before it is not.
                Assert.Equal(task.Mask(8).ToString(), ladder[^1].Mask);
                Assert.True(ladder[^1].ExactMatch >= full - drop - 1e-9, $"{task.Name}: {ladder[^1]} against {full}");
                Assert.All(ladder.Skip(1).SkipLast(1), t => Assert.True(t.ExactMatch < full - drop - 1e-9, $"{task.Name}: {t} against {full}"));
                // The ladder starts at one layer, the one the routers used most, and each step keeps one more.
                var masks = ladder.Skip(1).Select(t => t.Mask).ToList();
                Assert.Equal(1, masks[0].Count(c => c == '1'));
                var kept = Enumerable.Range(0, 8).Select(l => detail.MaskCounts.Where(kv => kv.Key[l] == '1').Sum(kv => kv.Value)).ToArray();
                Assert.Equal(kept.Max(), kept[masks[0].IndexOf('1')]);
                for (int i = 1; i < masks.Count; i++)
                {
                    Assert.Equal(masks[i - 1].Count(c => c == '1') + 1, masks[i].Count(c => c == '1'));
                    Assert.All(Enumerable.Range(0, 8).Where(l => masks[i - 1][l] == '1'), l => Assert.Equal('1', masks[i][l]));
                }
                // A budget of the whole scale takes the first rung.
                if (drop == 1.0) Assert.Single(masks);
            }
        }
        Assert.Contains(reports, p => p.Line?.StartsWith("add4: full ", StringComparison.Ordinal) == true && p.Line.Contains("the leanest within 1 point is ", StringComparison.Ordinal));
        Assert.All(reports.Where(p => p.Stage == "copy: quality"), p => Assert.InRange(p.Done, 1, p.Total));

        // Without a budget there is no ladder.
        var (_, plain) = TaskCalibration.Run(model, tokenizer, routers, "model.routers.bin", tasks.Take(1).ToList(),
                                             new CalibrationOptions { CalibrationPrompts = 4, HeldOutPrompts = 2, LatencyRepetitions = 1, LatencyTokens = 2 });
        Assert.Null(plain[0].Ladder);
    }

    [Fact]
    public void EliminationRemovesTheLeastHarmfulLayerWhileWithinTheBudgetAndReachesMasksTheLadderCannot()
    {
        // Six layers, ranked 0..5 by the routers. Layer 0 is essential; 2 and 4 stand in for each other; dropping
        // layer 1 costs half a point; 3 and 5 cost nothing.
        var asked = new List<string>();
        double Score(LayerMask m)
        {
            asked.Add(m.ToString());
            if (!m.IsKept(0)) return 0;
            if (!m.IsKept(2) && !m.IsKept(4)) return 0.5;
            return m.IsKept(1) ? 1.0 : 0.995;
        }
        int[] ranking = [0, 1, 2, 3, 4, 5];
        var (mask, exact) = TaskCalibration.Eliminate(Score, 1.0, ranking, maxDrop: 0.01);
        var measured = asked.ToList();
        // The ladder keeps 0, then 0-1, then 0-2: three layers, as layer 1 is ranked above 2. Elimination ends with
        // two. Ties go to the layer the routers used least: 5 before 4 before 3, so of 2 and 4 it is 4 that goes.
        Assert.Equal("101000", mask.ToString());
        Assert.Equal(0.995, exact);
        Assert.Equal("111000", TaskCalibration.Ladder([6, 5, 4, 3, 2, 1], [0, 0, 0, 0, 0, 0]).First(m => Score(m) >= 0.99).ToString());
        // A layer whose removal fell outside the budget is not tried again: 0 after the first round, 2 after the
        // third. Rounds: 6, 4, 3 and 1 measurements.
        Assert.Equal(["111110", "111101", "111011", "110111", "101111", "011111",
                      "111100", "111010", "110110", "101110",
                      "111000", "110100", "101100",
                      "101000"], measured);

        // A budget of zero on a task where every layer matters keeps them all.
        Assert.Equal("111111", TaskCalibration.Eliminate(m => m.KeptCount / 6.0, 1.0, ranking, 0).Mask.ToString());
    }

    [Fact]
    public void WithEliminationTheChosenMaskIsWithinTheBudgetAndEveryMaskTriedIsRecorded()
    {
        var (model, tokenizer, routers) = EmbeddedModel();
        using var _ = model;
        var reports = new List<PassProgress>();
        var o = new CalibrationOptions
        {
            CalibrationPrompts = 20, HeldOutPrompts = 4, LatencyRepetitions = 1, LatencyTokens = 2, MaxExactMatchDrop = 0.05, Search = MaskSearch.Elimination,
        };
        var (profile, details) = TaskCalibration.Run(model, tokenizer, routers, "model.routers.bin", [TaskGenerator.Find("sort")], o, reports.Add);
        var tried = details[0].Ladder!;
        Assert.Equal(CalibrationDetail.FullModelName, tried[0].Mask);
        string chosen = profile.Tasks[0].Mask(8).ToString();
        Assert.Equal(chosen, tried[^1].Mask);
        Assert.True(tried[^1].ExactMatch >= tried[0].ExactMatch - 0.05 - 1e-9, $"{tried[^1]} against {tried[0]}");
        // Sort does without layers: the first round alone measures each of the eight masks of seven layers.
        Assert.InRange(chosen.Count(c => c == '1'), 1, 7);
        Assert.Equal(8, tried.Skip(1).Take(8).Count(t => t.Mask.Count(c => c == '1') == 7));
        Assert.Contains(reports, p => p.Line?.StartsWith("sort: full ", StringComparison.Ordinal) == true && p.Line.Contains("masks tried); the leanest within 5 points is " + chosen, StringComparison.Ordinal));
        Assert.All(reports.Where(p => p.Stage == "sort: quality"), p => Assert.InRange(p.Done, 1, p.Total));
    }

    [Fact]
    public void CalibratingTheEmbeddedModelWritesAProfileTheRuntimeAndGeneratorRead()
    {
        var (model, tokenizer, routers) = EmbeddedModel();
        using var _ = model;
        var tasks = new[] { TaskGenerator.Find("copy"), TaskGenerator.Find("add") };
        var o = new CalibrationOptions { CalibrationPrompts = 12, HeldOutPrompts = 12, LatencyRepetitions = 3, LatencyTokens = 4 };
        var reports = new List<PassProgress>();
        var (profile, details) = TaskCalibration.Run(model, tokenizer, routers, "model.routers.bin", tasks, o, reports.Add);

        // Progress: one bar per task, counting its 12 + 12 prompts and the latency run up to the end, and the
        // lines a log prints are the two findings per task.
        foreach (string name in new[] { "copy", "add" })
        {
            var bar = reports.Where(p => p.Stage == $"{name}: mask").ToList();
            Assert.All(bar, p => Assert.Equal(25, p.Total));
            Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), bar.Select(p => p.Done).Distinct());
            Assert.Equal(2, bar.Count(p => p.Line is not null && p.Finding));
        }
        Assert.Contains(reports, p => p.Line?.StartsWith("copy: mask ", StringComparison.Ordinal) == true);
        Assert.All(reports, p => Assert.Equal(p.Line is not null, p.Finding));

        Assert.Equal(["copy", "add"], profile.Tasks.Select(t => t.Name));
        foreach (var (task, detail) in profile.Tasks.Zip(details))
        {
            Assert.Equal(12, detail.MaskCounts.Values.Sum());
            // The chosen mask keeps at least every layer of the commonest router mask.
            string commonest = detail.MaskCounts.MaxBy(kv => kv.Value).Key;
            for (int l = 0; l < 8; l++) if (commonest[l] == '1') Assert.Contains(l, task.KeptLayers);
            Assert.InRange(task.AccuracyFull!.Value, 0, 1);
            Assert.InRange(task.AccuracyMasked!.Value, 0, 1);
            Assert.InRange(task.Agreement!.Value, 0, 1);
            // Latencies are the benchmarks' business; here only that they are measurements (finite and positive:
            // a time over real decode steps is never zero or negative) and that the speedup says which of the two
            // was faster, the way round the profile and its plot read it (> 1: the masked path is faster).
            double full = task.MsPerTokenFull!.Value, masked = task.MsPerTokenMasked!.Value, speedup = task.Speedup!.Value;
            Assert.True(double.IsFinite(full) && full > 0 && double.IsFinite(masked) && masked > 0, $"{task.Name}: {full} ms full, {masked} ms masked");
            Assert.True(double.IsFinite(speedup) && speedup > 0, $"{task.Name}: speedup {speedup}");
            Assert.Equal(full > masked, speedup > 1);
            Assert.Equal(full < masked, speedup < 1);
            Assert.Equal(8, task.MeanP!.Count);
            Assert.All(task.MeanP, p => Assert.InRange(p, 0, 1));
        }
        Assert.Equal(new RouterReference("model.routers.bin", 0.5f), profile.Routers);

        // It round-trips through the profile format.
        string path = Path.Combine(_dir, "demo.first.json");
        profile.Save(path);
        var loaded = ModelProfile.Load(path);
        Assert.Equal(profile.Model, loaded.Model);
        Assert.Equal(profile.Tasks.Select(t => string.Join(",", t.KeptLayers)), loaded.Tasks.Select(t => string.Join(",", t.KeptLayers)));
        // The measurements survive the round trip unchanged (the runtime and generator read these).
        Assert.Equal(profile.Tasks.Select(t => (t.MsPerTokenFull, t.MsPerTokenMasked, t.Speedup, t.AccuracyFull, t.AccuracyMasked)),
                     loaded.Tasks.Select(t => (t.MsPerTokenFull, t.MsPerTokenMasked, t.Speedup, t.AccuracyFull, t.AccuracyMasked)));

        // And draws: one heatmap cell per task and layer, one bar pair per task.
        var files = CalibrationPlots.Write(profile, Path.Combine(_dir, "plots"));
        string heat = File.ReadAllText(files[0]);
        Assert.Equal(2 * 8 + 1 + 11, heat.Split("<rect").Length - 1); // cells, background, legend
        Assert.Contains(">copy<", heat);
        string bars = File.ReadAllText(files[1]);
        Assert.Contains(">add<", bars);
        Assert.Contains($"{profile.Tasks[0].Speedup:F2}x", bars);
    }

    [Fact]
    public void TaskFilesLoadAndBadOnesNameTheLine()
    {
        string path = Path.Combine(_dir, "tasks.jsonl");
        File.WriteAllText(path, "{\"task\":\"greet\",\"prompt\":\"hi =>\",\"answer\":\"hello\"}\n\n{\"task\":\"greet\",\"prompt\":\"yo =>\",\"answer\":\"hey\"}\n{\"task\":\"count\",\"prompt\":\"1 2 =>\",\"answer\":\"3\"}\n");
        var tasks = TaskFile.Load(path);
        Assert.Equal(["greet", "count"], tasks.Select(t => t.Name));
        Assert.Equal(2, tasks[0].Examples.Count);
        Assert.Equal(tasks.Select(t => t.Name), TaskFile.Resolve(path).Select(t => t.Name));

        void Bad(string content, string expected)
        {
            File.WriteAllText(path, content);
            var e = Assert.Throws<ModelLoadException>(() => TaskFile.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(expected, e.Message);
        }
        Bad("", "holds no examples");
        Bad("\n  \n", "holds no examples");
        Bad("{\"task\":\"a\",\"prompt\":\"x\"}", "line 1: 'answer' must be a non-empty string");
        Bad("{\"task\":\"a\",\"prompt\":\"x\",\"answer\":\"y\"}\n{oops", "line 2: not valid JSON");
        Bad("[1,2]", "line 1: expected an object");
        Bad("{\"task\":\"9lives\",\"prompt\":\"x\",\"answer\":\"y\"}", "is not an identifier");
        // The profile schema's rules: every name a task file accepts gives a profile the runtime loads.
        Bad("{\"task\":\"caf\u00e9\",\"prompt\":\"x\",\"answer\":\"y\"}", "is not an identifier");
        Bad("{\"task\":\"__\",\"prompt\":\"x\",\"answer\":\"y\"}", "no letter or digit");
        Bad("{\"task\":\"full\",\"prompt\":\"x\",\"answer\":\"y\"}", "is reserved");
        Bad("{\"task\":\"a_b\",\"prompt\":\"x\",\"answer\":\"y\"}\n{\"task\":\"ab\",\"prompt\":\"x\",\"answer\":\"y\"}", "'a_b' and 'ab' both become");
        Bad("{\"task\":\"copy\",\"prompt\":\"x\",\"answer\":\"y\"}\n{\"task\":\"Copy\",\"prompt\":\"x\",\"answer\":\"y\"}", "both become 'Copy'");
        Assert.Contains("task file not found", Assert.Throws<ModelLoadException>(() => TaskFile.Resolve(Path.Combine(_dir, "none.jsonl"))).Message);
        Assert.Contains("unknown task 'nope'", Assert.Throws<ArgumentException>(() => TaskFile.Resolve("copy,nope")).Message);
    }
}
