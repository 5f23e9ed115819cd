using System.Diagnostics;
using System.Text.Json.Serialization;
using FiRST.Cli.Bench;
using FiRST.Runtime;
using FiRST.Runtime.Diagnostics;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Sampling;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first bench --paths</c>: for every task of a profile, the compiled path against the generic masked loop
/// on the same mask, and against the full model on the generic loop. Paired, interleaved rounds in one
/// process: each round times one run of greedy decode steps from a reset session on each of the three
/// (the order rotating), so all three see the same machine state; the per-round ratios are summarised by
/// their median with a distribution-free 95% interval. On a shared machine separate runs drift by more than
/// the paths differ; pairing cancels the drift.
/// </summary>
internal static class PathBench
{
    /// <summary>The generated classes compiled into <c>first</c>: their shapes are the ones it has compiled paths for.</summary>
    private static readonly (ModelConfig Config, DecodePathTable Paths)[] Compiled =
    [
        (DemoModel.Config, DemoModel.Paths),
        (Shape15M.Config, Shape15M.Paths),
        (Shape110M.Config, Shape110M.Paths),
    ];

    /// <summary>
    /// Measures every task of the profile; cancelled, it stops within a token and says how many rounds of which
    /// task were done (<see cref="RunCancelledException"/>).
    /// </summary>
    public static PathBenchResult Measure(string modelPath, string profilePath, ModelLoadOptions load, int threads, int rounds, int steps, TextWriter progress,
                                          CancellationToken cancellationToken = default)
    {
        var profile = ModelProfile.Load(profilePath);
        using var model = LlamaModel.Load(modelPath, load);
        profile.EnsureFits(model.Config, modelPath);
        var table = TableFor(model.Config)
            ?? throw new ArgumentException($"{modelPath}: first has no compiled paths for this model's shape (dim {model.Config.Dim}, " +
                                           $"{model.Config.NLayers} layers); it has them for the demo model and the shapes of 'first make-model --shape 15M|110M'");
        var c = model.Config;
        steps = Math.Min(steps, c.MaxSeqLen - 1);

        var results = new List<PathBenchRow>();
        try
        {
            foreach (var task in profile.Tasks) results.Add(Measure(model, table, profilePath, task, threads, rounds, steps, progress, cancellationToken));
        }
        finally
        {
            progress.Write("\r" + new string(' ', 40) + "\r");
        }
        return new PathBenchResult { Model = modelPath, Profile = profilePath, Weights = model.Weights.FormatName, Threads = threads, Rounds = rounds, Steps = steps, Paths = results };
    }

    /// <summary>One task's paired rounds: its compiled path, the generic loop on its mask and the full model.</summary>
    private static PathBenchRow Measure(LlamaModel model, DecodePathTable table, string profilePath, TaskProfile task, int threads, int rounds, int steps,
                                        TextWriter progress, CancellationToken cancellationToken)
    {
        var c = model.Config;
        var mask = task.Mask(c.NLayers);
        if (!table.TryGet(mask, out var compiledPath))
            throw new ArgumentException($"{profilePath}: task '{task.Name}' has mask {mask}, for which first has no compiled path");
        using var compiled = model.CreateSession(new SessionOptions { Path = compiledPath, Threads = threads });
        using var generic = model.CreateSession(new SessionOptions { Mask = mask, Threads = threads });
        using var full = model.CreateSession(new SessionOptions { Threads = threads });
        InferenceSession[] sessions = [compiled, generic, full];
        var times = new double[3][];
        for (int i = 0; i < 3; i++) times[i] = new double[rounds];
        int done = 0;
        try
        {
            // Warm-up: JIT tiers settle and caches fill before anything counts.
            for (int w = 0; w < Math.Max(20, rounds / 10); w++)
                foreach (var s in sessions) Time(s, steps, cancellationToken);
            for (int r = 0; r < rounds; r++)
            {
                for (int k = 0; k < 3; k++)
                {
                    int i = (r + k) % 3;
                    times[i][r] = Time(sessions[i], steps, cancellationToken);
                }
                done = r + 1;
                if (r % 25 == 0) progress.Write($"\r{task.Name}: round {r + 1}/{rounds}   ");
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RunCancelledException(done, rounds, $"rounds of {task.Name}", cancellationToken);
        }
        var speedup = new double[rounds];
        var overFull = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            speedup[r] = times[1][r] / times[0][r];
            overFull[r] = times[2][r] / times[0][r];
        }
        var (median, low, high) = PairedStatistics.MedianWithInterval(speedup);
        var (fullMedian, fullLow, fullHigh) = PairedStatistics.MedianWithInterval(overFull);
        return new PathBenchRow
        {
            Task = task.Name,
            Mask = mask.ToString(),
            Path = compiledPath.GetType().Name,
            GenericMsPerToken = PairedStatistics.Median(times[1]),
            GeneratedMsPerToken = PairedStatistics.Median(times[0]),
            FullMsPerToken = PairedStatistics.Median(times[2]),
            Speedup = median,
            CiLow = low,
            CiHigh = high,
            SpeedupOverFull = fullMedian,
            SpeedupOverFullCiLow = fullLow,
            SpeedupOverFullCiHigh = fullHigh,
        };
    }

    /// <summary>The compiled paths for <paramref name="config"/>'s shape, if <c>first</c> was built with them.</summary>
    internal static DecodePathTable? TableFor(ModelConfig config)
    {
        foreach (var (shape, paths) in Compiled)
            if (shape.Dim == config.Dim && shape.HiddenDim == config.HiddenDim && shape.NLayers == config.NLayers && shape.NHeads == config.NHeads
                && shape.NKvHeads == config.NKvHeads && shape.VocabSize == config.VocabSize && shape.MaxSeqLen == config.MaxSeqLen)
                return paths;
        return null;
    }

    /// <summary>Milliseconds per token of <paramref name="steps"/> greedy decode steps after a one-token prompt.</summary>
    private static double Time(InferenceSession session, int steps, CancellationToken cancellationToken)
    {
        session.Reset();
        int token = Greedy.ArgMax(session.Prefill([1], cancellationToken));
        long start = Stopwatch.GetTimestamp();
        token = Greedy.Steps(session, token, steps, cancellationToken);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / steps;
        return token < 0 ? -ms : ms; // uses the token, so the loop cannot be dropped
    }

    public static void Print(TextWriter o, PathBenchResult r)
    {
        o.WriteLine($"model    {r.Model}");
        o.WriteLine($"profile  {r.Profile}");
        o.WriteLine($"weights  {r.Weights}");
        o.WriteLine($"threads  {r.Threads}; {r.Rounds} paired rounds of {r.Steps} greedy decode steps; medians, 95% intervals in brackets");
        o.WriteLine();
        o.WriteLine("| task | mask | path | full ms/token | generic ms/token | compiled ms/token | generic / compiled | full / compiled |");
        o.WriteLine("|---|---|---|---:|---:|---:|---|---|");
        foreach (var p in r.Paths)
            o.WriteLine($"| {p.Task} | {p.Mask} | {p.Path} | {p.FullMsPerToken:F4} | {p.GenericMsPerToken:F4} | {p.GeneratedMsPerToken:F4} | " +
                        $"{p.Speedup:F2}x [{p.CiLow:F2}, {p.CiHigh:F2}] | {p.SpeedupOverFull:F2}x [{p.SpeedupOverFullCiLow:F2}, {p.SpeedupOverFullCiHigh:F2}] |");
    }
}

/// <summary>What <c>first bench --paths</c> measured.</summary>
internal sealed record PathBenchResult
{
    public string Model { get; init; } = "";
    public string Profile { get; init; } = "";
    public string Weights { get; init; } = "f32";
    public int Threads { get; init; }
    public int Rounds { get; init; }
    public int Steps { get; init; }
    public IReadOnlyList<PathBenchRow> Paths { get; init; } = [];
}

/// <summary>One task: medians of paired rounds; <see cref="Speedup"/> is generic / compiled.</summary>
internal sealed record PathBenchRow
{
    public string Task { get; init; } = "";
    public string Mask { get; init; } = "";
    public string Path { get; init; } = "";
    public double GenericMsPerToken { get; init; }
    public double GeneratedMsPerToken { get; init; }
    public double FullMsPerToken { get; init; }
    public double Speedup { get; init; }
    public double CiLow { get; init; }
    public double CiHigh { get; init; }
    public double SpeedupOverFull { get; init; }
    public double SpeedupOverFullCiLow { get; init; }
    public double SpeedupOverFullCiHigh { get; init; }
}

[JsonSerializable(typeof(PathBenchResult))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class PathBenchJson : JsonSerializerContext;
