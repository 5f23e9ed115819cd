using System.Text.Json.Serialization;
using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Decoding;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first bench --dispatch</c>: the README's table for the embedded model. For each of its tasks, on the
/// task's own prompts, greedy, in paired interleaved rounds (<see cref="TaskRounds"/>): the full model on the
/// generic loop; the task's compiled path; the routers' mask on the generic loop (the dynamic path); early exit
/// on the full model; self-speculation on the full model and on the task's path. Also what the dispatcher
/// costs: the time its routers take to score the prompt, against the prefill they are part of.
/// </summary>
internal static class DispatchBench
{
    /// <summary>The plan on the full model when <c>--speculate</c> is not given.</summary>
    public static readonly SpeculationOptions DefaultPlan = new(3, 4);

    /// <summary>The uniform early-exit threshold for a task the profile has no thresholds for.</summary>
    public const float DefaultThreshold = 0.9f;

    /// <param name="plan">Speculation on the full model and, where it fits, the task path; null for <see cref="DefaultPlan"/> on the full model and each task path's calibrated plan.</param>
    /// <param name="threshold">A uniform early-exit threshold; null for each task's calibrated thresholds (the profile's).</param>
    public static DispatchBenchResult Measure(ModelLoadOptions load, SpeculationOptions? plan, float? threshold, int threads, int rounds, TextWriter progress,
                                              CancellationToken cancellationToken = default)
    {
        string modelPath = CommonOptions.DefaultModelPath;
        using var model = LlamaModel.Load(modelPath, load);
        var tokenizer = TextTokenizer.Load(CommonOptions.DefaultTokenizer(modelPath));
        tokenizer.EnsureFits(model);
        var routers = RouterSet.Load(CommonOptions.DefaultRoutersPath);
        int layers = model.Config.NLayers;
        var fullPlan = plan ?? DefaultPlan;
        DecodingOptions.EnsureFits(fullPlan, layers, "the full model");
        var profile = Runtime.Profiles.ModelProfile.Load(Path.Combine(Path.GetDirectoryName(modelPath)!, "model.first.json"));

        var rows = new List<DispatchBenchRow>();
        double routersMs = 0, routedPrefillMs = 0;
        foreach (var task in Enum.GetValues<DemoModel.Task>())
        {
            string name = task.ToString().ToLowerInvariant();
            var generator = TaskGenerator.Find(name);
            var path = DemoModel.PathFor(task);
            int kept = path.Mask.KeptCount;
            // The task path's draft: the same E when it leaves layers to verify (and --speculate asked for it),
            // else two layers short of the path (at least one).
            // Without --speculate: the plan calibration stored for the task (the generated path carries it).
            var calibrated = profile.Task(name).Speculation;
            var taskPlan = plan is not null && plan.DraftLayers < kept ? plan : calibrated ?? new SpeculationOptions(Math.Max(1, kept - 2), fullPlan.Lookahead);
            // Without --early-exit: the task's calibrated thresholds.
            var earlyExit = threshold is { } uniform ? DecodingOptions.UniformExit(layers, uniform)
                : profile.Task(name).EarlyExit ?? DecodingOptions.UniformExit(layers, DefaultThreshold);
            string exitName = threshold is { } u ? $"early exit {u:0.###}" : $"early exit (calibrated: {earlyExit})";

            TaskConfiguration[] configurations =
            [
                new("full", new SessionOptions { Threads = threads }),
                new("task path", new SessionOptions { Threads = threads, Path = path }),
                new("dynamic (routers)", new SessionOptions { Threads = threads, Routers = routers, Policy = PathPolicy.Dynamic }),
                new(exitName, new SessionOptions { Threads = threads, EarlyExit = earlyExit, Policy = PathPolicy.Dynamic }),
                new($"full + speculate {fullPlan}", new SessionOptions { Threads = threads, Speculation = fullPlan }),
                new($"task path + speculate {taskPlan}", new SessionOptions { Threads = threads, Path = path, Speculation = taskPlan }),
            ];
            var examples = generator.Samples(rounds * TaskRounds.PromptsPerRound, TaskEvaluation.HeldOutSeed);
            var t = TaskRounds.Run(model, tokenizer, configurations, examples, rounds, name, progress, cancellationToken);
            routersMs += t[2].RoutersMs;
            routedPrefillMs += t[2].PrefillMs;
            for (int i = 0; i < configurations.Length; i++)
            {
                var (over, low, high) = TaskRounds.Speedup(t[0], t[i]);
                // Speculation is checked against the same path without it: full (0) and the task path (1).
                int? baseline = i switch { 4 => 0, 5 => 1, _ => null };
                rows.Add(new DispatchBenchRow
                {
                    Task = name,
                    Configuration = configurations[i].Name,
                    Path = t[i].Path,
                    Mask = t[i].Mask.Mask,
                    MaskShare = t[i].Mask.Share,
                    Speculate = i switch { 4 => fullPlan.ToString(), 5 => taskPlan.ToString(), _ => null },
                    TokensPerSecond = t[i].TokensPerSecond,
                    MsPerToken = t[i].MedianMsPerToken,
                    SpeedupOverFull = over,
                    SpeedupOverFullCiLow = low,
                    SpeedupOverFullCiHigh = high,
                    ExactMatch = t[i].ExactMatch,
                    AcceptanceRate = baseline is null ? null : t[i].AcceptanceRate ?? 0,
                    Lossless = baseline is { } b ? t[i].SameTokens(t[b]) : null,
                    MeanExitDepth = i == 3 ? t[i].MeanExitDepth : null,
                    EarlyExitShare = i == 3 ? t[i].EarlyExitShare : null,
                    RoutersShareOfPrefill = i == 2 && t[i].PrefillMs > 0 ? t[i].RoutersMs / t[i].PrefillMs : null,
                });
            }
        }
        return new DispatchBenchResult
        {
            Model = modelPath,
            Weights = model.Weights.FormatName,
            Machine = Machine.Describe(),
            Threads = threads,
            Rounds = rounds,
            PromptsPerRound = TaskRounds.PromptsPerRound,
            EarlyExitThreshold = threshold,
            Speculate = fullPlan.ToString(),
            RoutersMs = routersMs,
            RoutedPrefillMs = routedPrefillMs,
            DispatcherOverhead = routedPrefillMs > 0 ? routersMs / routedPrefillMs : 0,
            Rows = rows,
        };
    }

    public static void Print(TextWriter o, DispatchBenchResult r)
    {
        o.WriteLine($"machine  {r.Machine}; {r.Threads} thread{(r.Threads == 1 ? "" : "s")}");
        o.WriteLine($"model    {r.Model} (weights {r.Weights})");
        o.WriteLine($"{r.Rounds} paired rounds of {r.PromptsPerRound} greedy answers per task; decode time only; medians, 95% intervals in brackets");
        o.WriteLine();
        o.WriteLine("| task | configuration | path | layers | tok/s | over full | exact match | detail |");
        o.WriteLine("|---|---|---|---|---:|---|---:|---|");
        foreach (var w in r.Rows)
            o.WriteLine($"| {w.Task} | {w.Configuration} | {w.Path} | {w.Mask} | {w.TokensPerSecond:F0} | " +
                        $"{w.SpeedupOverFull:F2}x [{w.SpeedupOverFullCiLow:F2}, {w.SpeedupOverFullCiHigh:F2}] | {TaskRounds.Percent(w.ExactMatch, 1)} | {Detail(w)} |");
        o.WriteLine();
        o.WriteLine($"dispatcher overhead: the routers scored prompts in {r.RoutersMs:F1} ms of {r.RoutedPrefillMs:F1} ms of routed prefill ({TaskRounds.Percent(r.DispatcherOverhead, 1)}); choosing the path is a table lookup");
    }

    private static string Detail(DispatchBenchRow w)
    {
        var parts = new List<string>();
        if (w.MaskShare < 1) parts.Add($"routed mask {w.Mask} in {TaskRounds.Percent(w.MaskShare, 0)} of prompts");
        if (w.RoutersShareOfPrefill is { } routers) parts.Add($"routers {TaskRounds.Percent(routers, 1)} of prefill");
        if (w.MeanExitDepth is { } depth) parts.Add($"mean depth {depth:F1} layers, {TaskRounds.Percent(w.EarlyExitShare ?? 0, 0)} of tokens exited");
        if (w.AcceptanceRate is { } a) parts.Add($"{TaskRounds.Percent(a, 0)} accepted");
        if (w.Lossless is { } l) parts.Add(l ? "same tokens" : "TOKENS DIFFER");
        return parts.Count == 0 ? "" : string.Join("; ", parts);
    }
}

/// <summary>What <c>first bench --dispatch</c> measured.</summary>
internal sealed record DispatchBenchResult
{
    public string Model { get; init; } = "";
    public string Weights { get; init; } = "f32";
    public string Machine { get; init; } = "";
    public int Threads { get; init; }
    public int Rounds { get; init; }
    public int PromptsPerRound { get; init; }
    public float? EarlyExitThreshold { get; init; }
    public string Speculate { get; init; } = "";
    /// <summary>Time the routers spent scoring prompts, over every routed run.</summary>
    public double RoutersMs { get; init; }
    /// <summary>Prefill time of those runs (the routers' scoring included).</summary>
    public double RoutedPrefillMs { get; init; }
    /// <summary><see cref="RoutersMs"/> / <see cref="RoutedPrefillMs"/>.</summary>
    public double DispatcherOverhead { get; init; }
    public IReadOnlyList<DispatchBenchRow> Rows { get; init; } = [];
}

/// <summary>One task and configuration; <see cref="SpeedupOverFull"/> is the full model's generic loop over this one.</summary>
internal sealed record DispatchBenchRow
{
    public string Task { get; init; } = "";
    public string Configuration { get; init; } = "";
    public string Path { get; init; } = "";
    /// <summary>The mask the runs ran most often (routed masks vary by prompt), and the share of runs that ran it.</summary>
    public string Mask { get; init; } = "";
    public double MaskShare { get; init; }
    public string? Speculate { get; init; }
    public double TokensPerSecond { get; init; }
    public double MsPerToken { get; init; }
    public double SpeedupOverFull { get; init; }
    public double SpeedupOverFullCiLow { get; init; }
    public double SpeedupOverFullCiHigh { get; init; }
    public double ExactMatch { get; init; }
    public double? AcceptanceRate { get; init; }
    /// <summary>Speculating rows: the answers have exactly the tokens of the same path without speculation.</summary>
    public bool? Lossless { get; init; }
    public double? MeanExitDepth { get; init; }
    public double? EarlyExitShare { get; init; }
    public double? RoutersShareOfPrefill { get; init; }
}

[JsonSerializable(typeof(DispatchBenchResult))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class DispatchBenchJson : JsonSerializerContext;
