using System.Text.Json.Serialization;
using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Decoding;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Tokenization;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first bench --speculate E:k</c>: what self-speculation buys on each task of a profile. On the task's own
/// prompts (from its <see cref="TaskGenerator"/>), greedy, paired interleaved rounds (<see cref="TaskRounds"/>)
/// of four configurations: the full model on the generic loop, the full model speculating with E:k, the task's
/// compiled path, and the task's path speculating (E counted among the task's kept layers). Speculation is set
/// against the same path without it, and everything against the full model; each speculating configuration
/// must give exactly the tokens of the same path without it.
/// </summary>
internal static class SpeculationBench
{
    public static SpeculationBenchResult Measure(string modelPath, string profilePath, ModelLoadOptions load, SpeculationOptions plan,
                                                 int threads, int rounds, TextWriter progress, CancellationToken cancellationToken = default)
    {
        var profile = ModelProfile.Load(profilePath);
        using var model = LlamaModel.Load(modelPath, load);
        profile.EnsureFits(model.Config, modelPath);
        var tokenizer = TextTokenizer.Load(CommonOptions.DefaultTokenizer(modelPath));
        tokenizer.EnsureFits(model);
        var c = model.Config;
        DecodingOptions.EnsureFits(plan, c.NLayers, "the full model");
        var table = PathBench.TableFor(c)
            ?? throw new ArgumentException($"{modelPath}: first has no compiled paths for this model's shape (dim {c.Dim}, {c.NLayers} layers)");

        var rows = new List<SpeculationBenchRow>();
        foreach (var task in profile.Tasks)
        {
            var generator = TaskGenerator.All.FirstOrDefault(t => t.Name == task.Name)
                ?? throw new ArgumentException($"{profilePath}: task '{task.Name}' has no prompt generator to measure it with; first has: {string.Join(", ", TaskGenerator.All.Select(t => t.Name))}");
            var mask = task.Mask(c.NLayers);
            var path = TaskPath(table, task.Name, mask)
                ?? throw new ArgumentException($"{profilePath}: task '{task.Name}' has mask {mask}, for which first has no compiled path");
            if (mask.KeptCount < 2)
                throw new ArgumentException($"{profilePath}: task '{task.Name}' keeps one layer, which leaves none to verify a draft with");
            var taskPlan = plan.DraftLayers < mask.KeptCount ? plan : new SpeculationOptions(mask.KeptCount - 1, plan.Lookahead);
            string? note = ReferenceEquals(taskPlan, plan) ? null
                : $"the path keeps {mask.KeptCount} layers, so its draft runs {taskPlan.DraftLayers} (E = kept - 1)";
            if (note is not null) progress.WriteLine($"{task.Name}: {note}");

            TaskConfiguration[] configurations =
            [
                new("full", new SessionOptions { Threads = threads }),
                new("full + speculate", new SessionOptions { Threads = threads, Speculation = plan }),
                new("path", new SessionOptions { Threads = threads, Path = path }),
                new("path + speculate", new SessionOptions { Threads = threads, Path = path, Speculation = taskPlan }),
            ];
            var examples = generator.Samples(rounds * TaskRounds.PromptsPerRound, TaskEvaluation.HeldOutSeed);
            var t = TaskRounds.Run(model, tokenizer, configurations, examples, rounds, task.Name, progress, cancellationToken);
            for (int i = 0; i < configurations.Length; i++)
            {
                bool speculates = i % 2 == 1;
                var (over, overLow, overHigh) = TaskRounds.Speedup(t[0], t[i]);
                (double Median, double Low, double High)? speedup = speculates ? TaskRounds.Speedup(t[i - 1], t[i]) : null;
                rows.Add(new SpeculationBenchRow
                {
                    Task = task.Name,
                    Configuration = configurations[i].Name,
                    Path = t[i].Path,
                    Mask = t[i].Mask.Mask,
                    Speculate = speculates ? (i == 1 ? plan : taskPlan).ToString() : null,
                    TokensPerSecond = t[i].TokensPerSecond,
                    MsPerToken = t[i].MedianMsPerToken,
                    AcceptanceRate = speculates ? t[i].AcceptanceRate ?? 0 : null,
                    Speedup = speedup?.Median,
                    CiLow = speedup?.Low,
                    CiHigh = speedup?.High,
                    SpeedupOverFull = over,
                    SpeedupOverFullCiLow = overLow,
                    SpeedupOverFullCiHigh = overHigh,
                    ExactMatch = t[i].ExactMatch,
                    Lossless = speculates ? t[i].SameTokens(t[i - 1]) : null,
                    Note = i == 3 ? note : null,
                });
            }
        }
        return new SpeculationBenchResult
        {
            Model = modelPath,
            Profile = profilePath,
            Weights = model.Weights.FormatName,
            Machine = Machine.Describe(),
            Threads = threads,
            Rounds = rounds,
            PromptsPerRound = TaskRounds.PromptsPerRound,
            Speculate = plan.ToString(),
            Lossless = rows.All(r => r.Lossless != false),
            Rows = rows,
        };
    }

    /// <summary>The task's own path where the table names its tasks, else the path of its mask (tasks may share one); null when none.</summary>
    private static IDecodePath? TaskPath(DecodePathTable table, string task, LayerMask mask)
    {
        if (table.Tasks.Contains(task) && table.ForTask(task) is var own && own.Mask.Equals(mask)) return own;
        return table.TryGet(mask, out var path) ? path : null;
    }

    public static void Print(TextWriter o, SpeculationBenchResult r)
    {
        o.WriteLine($"model    {r.Model}");
        o.WriteLine($"profile  {r.Profile}");
        o.WriteLine($"machine  {r.Machine}; {r.Threads} thread{(r.Threads == 1 ? "" : "s")}; weights {r.Weights}");
        o.WriteLine($"{r.Rounds} paired rounds of {r.PromptsPerRound} greedy answers per task; decode time only; medians, 95% intervals in brackets");
        o.WriteLine($"speculation {r.Speculate} (E:k); lossless: {(r.Lossless ? "yes, every speculating answer has the tokens of the same path without it" : "NO, see the rows")}");
        o.WriteLine();
        o.WriteLine("| task | configuration | path | mask | E:k | tok/s | accepted | speculation speedup | over full | exact match | same tokens |");
        o.WriteLine("|---|---|---|---|---|---:|---:|---|---|---:|---|");
        foreach (var w in r.Rows)
            o.WriteLine($"| {w.Task} | {w.Configuration} | {w.Path} | {w.Mask} | {w.Speculate ?? "-"} | {w.TokensPerSecond:F0} | " +
                        $"{(w.AcceptanceRate is { } a ? $"{TaskRounds.Percent(a, 0)}" : "-")} | {(w.Speedup is { } s ? $"{s:F2}x [{w.CiLow:F2}, {w.CiHigh:F2}]" : "-")} | " +
                        $"{w.SpeedupOverFull:F2}x [{w.SpeedupOverFullCiLow:F2}, {w.SpeedupOverFullCiHigh:F2}] | {TaskRounds.Percent(w.ExactMatch, 1)} | " +
                        $"{(w.Lossless is { } l ? (l ? "yes" : "NO") : "-")} |");
        foreach (var w in r.Rows.Where(w => w.Note is not null))
            o.WriteLine($"{w.Task}: {w.Note}");
    }
}

/// <summary>What <c>first bench --speculate</c> measured.</summary>
internal sealed record SpeculationBenchResult
{
    public string Model { get; init; } = "";
    public string Profile { get; init; } = "";
    public string Weights { get; init; } = "f32";
    public string Machine { get; init; } = "";
    public int Threads { get; init; }
    public int Rounds { get; init; }
    public int PromptsPerRound { get; init; }
    public string Speculate { get; init; } = "";
    /// <summary>True when every speculating configuration gave exactly the tokens of its path without speculation.</summary>
    public bool Lossless { get; init; }
    public IReadOnlyList<SpeculationBenchRow> Rows { get; init; } = [];
}

/// <summary>
/// One task and configuration. <see cref="Speedup"/> (speculating rows only) is the same path without
/// speculation over this one; <see cref="SpeedupOverFull"/> the full model's generic loop over this one.
/// </summary>
internal sealed record SpeculationBenchRow
{
    public string Task { get; init; } = "";
    public string Configuration { get; init; } = "";
    public string Path { get; init; } = "";
    public string Mask { get; init; } = "";
    public string? Speculate { get; init; }
    public double TokensPerSecond { get; init; }
    public double MsPerToken { get; init; }
    public double? AcceptanceRate { get; init; }
    public double? Speedup { get; init; }
    public double? CiLow { get; init; }
    public double? CiHigh { get; init; }
    public double SpeedupOverFull { get; init; }
    public double SpeedupOverFullCiLow { get; init; }
    public double SpeedupOverFullCiHigh { get; init; }
    public double ExactMatch { get; init; }
    public bool? Lossless { get; init; }
    public string? Note { get; init; }
}

[JsonSerializable(typeof(SpeculationBenchResult))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class SpeculationBenchJson : JsonSerializerContext;
