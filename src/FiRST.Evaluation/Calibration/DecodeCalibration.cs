using FiRST.Runtime;
using FiRST.Runtime.Decoding;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Tasks;

namespace FiRST.Evaluation.Calibration;

/// <summary>
/// The dynamic decoding settings calibration adds to each task after its mask: early-exit thresholds (the
/// most aggressive that keep the task's exact match within <see cref="MaxAccuracyLoss"/> of the full model
/// on its calibration prompts) and a self-speculation plan for the task's path (the draft depth and
/// lookahead that decode fastest, measured in interleaved rounds; none when nothing beats plain decoding by
/// <see cref="MinSpeedup"/>).
/// </summary>
public static class DecodeCalibration
{
    /// <summary>
    /// Largest drop in exact match, against the full model, an early-exit setting may cost on the calibration
    /// prompts: none. The one-point budget is left to held-out prompts (with half a point allowed here, copy,
    /// reverse and add4 lost 0.4 to 1.2 points on held-out prompts of the embedded model).
    /// </summary>
    public const double MaxAccuracyLoss = 0;

    /// <summary>Speculation is only stored when it decodes at least this much faster than the same path without it.</summary>
    public const double MinSpeedup = 1.05;

    /// <summary>Thresholds tried (uniform after every layer from a first exit layer on).</summary>
    public static readonly float[] Thresholds = [0.5f, 0.7f, 0.8f, 0.9f, 0.95f, 0.99f];

    /// <summary>Lookaheads tried for each draft depth.</summary>
    public static readonly int[] Lookaheads = [2, 3, 4, 6, 8];

    /// <summary>Adds early-exit thresholds and a speculation plan to every task of <paramref name="profile"/>.</summary>
    /// <param name="model">The model (every layer loaded).</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="profile">Masks from <see cref="TaskCalibration"/>.</param>
    /// <param name="tasks">The tasks, by the profile's names.</param>
    /// <param name="paths">Compiled paths for the profile's masks (a generated model's table), or null to time the generic loop.</param>
    /// <param name="o">Prompt counts, seed, threads, repetitions.</param>
    /// <param name="progress">Receives every setting tried, with a line per task and search.</param>
    /// <param name="cancellationToken">Stops the search within a token (<see cref="RunCancelledException"/>: how many tasks were done).</param>
    public static ModelProfile Run(LlamaModel model, TextTokenizer tokenizer, ModelProfile profile, IReadOnlyList<TaskGenerator> tasks,
                                   DecodePathTable? paths, CalibrationOptions o, Action<PassProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        int layers = model.Config.NLayers;
        var updated = new List<TaskProfile>();
        try
        {
            foreach (var t in profile.Tasks)
            {
                var task = tasks.First(g => string.Equals(g.Name, t.Name, StringComparison.OrdinalIgnoreCase));
                var prompts = task.Samples(o.CalibrationPrompts, o.Seed + 1);
                var earlyExit = layers >= 2 ? EarlyExit(model, tokenizer, prompts, o, t.Name, progress, cancellationToken) : null;
                var mask = t.Mask(layers);
                var path = paths is not null && paths.TryGet(mask, out var compiled) ? compiled : new MaskedPath(mask);
                var speculation = mask.KeptCount >= 2 ? Speculation(model, tokenizer, path, prompts, o, t.Name, progress, cancellationToken) : null;
                updated.Add(t with { EarlyExit = earlyExit, Speculation = speculation });
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RunCancelledException(updated.Count, profile.Tasks.Count, "tasks' decode settings", cancellationToken);
        }
        return profile with { Tasks = updated };
    }

    /// <summary>
    /// The uniform threshold and first exit layer with the lowest mean exit depth whose exact match on
    /// <paramref name="prompts"/> is within <see cref="MaxAccuracyLoss"/> of the full model's; null if none is.
    /// </summary>
    private static EarlyExitOptions? EarlyExit(LlamaModel model, TextTokenizer tokenizer, IReadOnlyList<TaskExample> prompts,
                                               CalibrationOptions o, string name, Action<PassProgress>? progress, CancellationToken cancellationToken)
    {
        int layers = model.Config.NLayers;
        // The bar counts the full model's run and every setting tried.
        string stage = $"{name}: early exit";
        long total = 1 + (layers - 1) * Thresholds.Length, done = 0;
        double full = Accuracy(model, tokenizer, new SessionOptions { Threads = o.Threads }, prompts, out _, cancellationToken);
        progress?.Invoke(new PassProgress(stage, ++done, total));
        (EarlyExitOptions Options, double Depth, double Accuracy)? best = null;
        for (int first = 0; first < layers - 1; first++)
            foreach (float threshold in Thresholds)
            {
                var options = EarlyExitOptions.Uniform(layers, threshold, first);
                double accuracy = Accuracy(model, tokenizer, new SessionOptions { Threads = o.Threads, EarlyExit = options }, prompts, out double depth, cancellationToken);
                progress?.Invoke(new PassProgress(stage, ++done, total));
                if (accuracy < full - MaxAccuracyLoss - 1e-9) continue;
                if (best is null || depth < best.Value.Depth - 1e-9) best = (options, depth, accuracy);
            }
        progress?.Invoke(new PassProgress(stage, total, total)
        {
            Line = best is { } b
                ? $"{name}: early exit {b.Options} (mean depth {b.Depth:F2} of {layers}, exact match {b.Accuracy:P1} vs {full:P1} full)"
                : $"{name}: no early-exit setting keeps exact match within {MaxAccuracyLoss:P0} of {full:P1}",
            Finding = true,
        });
        return best?.Options;
    }

    /// <summary>Exact match of greedy answers over <paramref name="prompts"/>, and the mean layers per decoded token.</summary>
    private static double Accuracy(LlamaModel model, TextTokenizer tokenizer, SessionOptions session, IReadOnlyList<TaskExample> prompts, out double depth,
                                   CancellationToken cancellationToken)
    {
        var generator = new TextGenerator(model, tokenizer, session);
        int right = 0;
        double layers = 0;
        long tokens = 0;
        foreach (var e in prompts)
        {
            var run = generator.Generate(e.Prompt, Greedy(tokenizer, e), cancellationToken);
            if (string.Concat(run.Text()).TrimStart(' ') == e.Answer) right++;
            layers += run.Stats.MeanExitDepth * run.Stats.DecodeSteps;
            tokens += run.Stats.DecodeSteps;
        }
        depth = tokens == 0 ? model.Config.NLayers : layers / tokens;
        return (double)right / prompts.Count;
    }

    private static GenerationOptions Greedy(TextTokenizer tokenizer, TaskExample e) =>
        new() { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId], MaxNewTokens = e.Answer.Length + 4 };

    /// <summary>
    /// The (draft layers, lookahead) that decode <paramref name="prompts"/>' answers fastest on
    /// <paramref name="path"/>, each candidate timed against plain decoding on the same path in interleaved
    /// rounds (median ratio over rounds); null unless the best beats plain decoding by <see cref="MinSpeedup"/>.
    /// </summary>
    private static SpeculationOptions? Speculation(LlamaModel model, TextTokenizer tokenizer, IDecodePath path, IReadOnlyList<TaskExample> prompts,
                                                   CalibrationOptions o, string name, Action<PassProgress>? progress, CancellationToken cancellationToken)
    {
        var sample = prompts.Take(Math.Min(prompts.Count, 20)).ToArray();
        var plain = new TextGenerator(model, tokenizer, new SessionOptions { Threads = o.Threads, Path = path });
        var candidates = new List<SpeculationOptions>();
        for (int e = 1; e < path.Mask.KeptCount; e++)
            foreach (int k in Lookaheads) candidates.Add(new SpeculationOptions(e, k));
        var generators = candidates.Select(c => new TextGenerator(model, tokenizer, new SessionOptions { Threads = o.Threads, Path = path, Speculation = c })).ToArray();
        int rounds = Math.Max(3, o.LatencyRepetitions / 3);
        var ratios = new double[candidates.Count][];
        for (int i = 0; i < ratios.Length; i++) ratios[i] = new double[rounds];
        // The bar counts the warm-up and the rounds.
        string stage = $"{name}: speculation";
        long done = 0;
        DecodeMs(plain, tokenizer, sample, cancellationToken); // warm-up
        foreach (var g in generators) DecodeMs(g, tokenizer, sample, cancellationToken);
        progress?.Invoke(new PassProgress(stage, ++done, 1 + rounds));
        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                // Plain and candidate back to back, so drift hits both alike.
                double basis = DecodeMs(plain, tokenizer, sample, cancellationToken);
                ratios[i][r] = basis / DecodeMs(generators[i], tokenizer, sample, cancellationToken);
            }
            progress?.Invoke(new PassProgress(stage, ++done, 1 + rounds));
        }
        int best = Enumerable.Range(0, candidates.Count).MaxBy(i => Median(ratios[i]));
        double speedup = Median(ratios[best]);
        progress?.Invoke(new PassProgress(stage, done, done)
        {
            Line = speedup >= MinSpeedup
                ? $"{name}: speculation {candidates[best]} on {path.Mask} ({speedup:F2}x the same path without it)"
                : $"{name}: no speculation plan beats plain decoding (best {candidates[best]}: {speedup:F2}x)",
            Finding = true,
        });
        return speedup >= MinSpeedup ? candidates[best] : null;
    }

    /// <summary>Decode milliseconds per generated token over the answers of <paramref name="prompts"/>.</summary>
    private static double DecodeMs(TextGenerator generator, TextTokenizer tokenizer, IReadOnlyList<TaskExample> prompts, CancellationToken cancellationToken)
    {
        double ms = 0;
        long tokens = 0;
        foreach (var e in prompts)
        {
            var run = generator.Generate(e.Prompt, Greedy(tokenizer, e), cancellationToken);
            foreach (var _ in run) { }
            ms += run.Stats.DecodeMs;
            tokens += run.Stats.DecodeSteps;
        }
        return ms / Math.Max(1, tokens);
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }
}
