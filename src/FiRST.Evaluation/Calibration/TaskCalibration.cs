using System.Diagnostics;
using FiRST.Runtime;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Tasks;

namespace FiRST.Evaluation.Calibration;

/// <summary>Settings of a calibration pass.</summary>
public sealed record CalibrationOptions
{
    /// <summary>Prompts per task the routers run on to choose the task's mask.</summary>
    public int CalibrationPrompts { get; init; } = 100;
    /// <summary>Held-out prompts per task that measure the chosen mask.</summary>
    public int HeldOutPrompts { get; init; } = 200;
    /// <summary>
    /// A layer kept on more than this share of the calibration prompts is kept in the task's mask as well. The
    /// default, 1, keeps the commonest mask as it is: the dispatcher only finds a generated path for a routed
    /// mask equal to a task's, and on the embedded model a 0.1 margin made copy's mask one the routers
    /// almost never chose (with no accuracy gained).
    /// </summary>
    public double KeepShare { get; init; } = 1;
    /// <summary>
    /// When set, each task's mask is the leanest of a ladder whose exact match on the task's calibration prompts is
    /// at most this far below the full model's on the same prompts (0.01: one point), and <see cref="KeepShare"/>
    /// is not used. The ladder ranks the layers by how the routers used them on the task's prompts (kept most
    /// often first, then by mean probability) and keeps the first 1, 2, ... of them, up to every layer. One
    /// global <see cref="KeepShare"/> cannot do this: on the embedded model the margin sort needed to stay within
    /// a point made copy keep a layer it does without. The choice is made on the calibration prompts, so the
    /// held-out prompts still measure it unseen.
    /// </summary>
    public double? MaxExactMatchDrop { get; init; }
    /// <summary>
    /// How the masks tried under <see cref="MaxExactMatchDrop"/> are chosen: the routers' <see cref="MaskSearch.Ladder"/>
    /// (one mask per layer count) or <see cref="MaskSearch.Elimination"/> (layers removed one at a time, the
    /// least harmful first).
    /// </summary>
    public MaskSearch Search { get; init; } = MaskSearch.Ladder;
    /// <summary>Router threshold.</summary>
    public float Threshold { get; init; } = 0.5f;
    /// <summary>Timed repetitions per task and path (medians are reported).</summary>
    public int LatencyRepetitions { get; init; } = 21;
    /// <summary>Decode steps per timed repetition.</summary>
    public int LatencyTokens { get; init; } = 32;
    /// <summary>Threads per kernel while timing.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Seed of the calibration prompts (the held-out prompts use <see cref="TaskEvaluation.HeldOutSeed"/>).</summary>
    public int Seed { get; init; } = 31_337;
}

/// <summary>How calibration searches for a task's mask under an exact-match budget (<see cref="CalibrationOptions.MaxExactMatchDrop"/>).</summary>
public enum MaskSearch
{
    /// <summary>
    /// Keep the first 1, 2, ... layers of the routers' ranking and take the first within the budget: one exact-match
    /// measurement per layer at most, and the layers kept are the ones the routers use.
    /// </summary>
    Ladder,
    /// <summary>
    /// Backward elimination: from every layer, remove the one layer whose removal leaves the highest exact match
    /// (ties: the layer the routers used least), as long as it stays within the budget. A layer whose removal
    /// falls outside the budget is not tried again. Up to n(n+1)/2 measurements, and it finds masks the ladder
    /// cannot reach: the ladder's order is fixed by the routers, so when the layer they rank next is one the
    /// task needs, every leaner rung fails too.
    /// </summary>
    Elimination,
}

/// <summary>What calibration saw on one task besides what goes into the profile.</summary>
/// <param name="Task">The task.</param>
/// <param name="MaskCounts">How many calibration prompts the routers gave each mask.</param>
/// <param name="Ladder">
/// With <see cref="CalibrationOptions.MaxExactMatchDrop"/>: the masks tried, in the order they were tried, with their
/// exact match on the calibration prompts, the last one being the one chosen; the full model's comes first under
/// <see cref="FullModelName"/>. Null without it.
/// </param>
public sealed record CalibrationDetail(string Task, IReadOnlyDictionary<string, int> MaskCounts, IReadOnlyList<(string Mask, double ExactMatch)>? Ladder = null)
{
    /// <summary>The name the full model's exact match has in <see cref="Ladder"/>.</summary>
    public const string FullModelName = "full";
}

/// <summary>
/// The calibration pass: for each task, routes its calibration prompts, picks the task's mask (the commonest
/// mask, plus any layer kept on more than <see cref="CalibrationOptions.KeepShare"/> of the prompts), then
/// measures that mask on held-out prompts against the full model: exact match, token agreement and decode
/// milliseconds per token (same run, interleaved). The result is a <see cref="ModelProfile"/>.
/// </summary>
public static class TaskCalibration
{
    /// <summary>
    /// Calibrates every task; <paramref name="routersFile"/> is recorded in the profile as given.
    /// <paramref name="cancellationToken"/> stops it before the next prompt or timed repetition, saying how many
    /// tasks were done (<see cref="RunCancelledException"/>; each done task has had its progress lines).
    /// </summary>
    public static (ModelProfile Profile, IReadOnlyList<CalibrationDetail> Details) Run(
        LlamaModel model, TextTokenizer tokenizer, RouterSet routers, string routersFile, IReadOnlyList<TaskGenerator> tasks,
        CalibrationOptions o, Action<PassProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        routers.EnsureFits(model.Config, model.Path);
        if (tasks.Count == 0) throw new ArgumentException("calibration needs at least one task");
        if (o.CalibrationPrompts < 1 || o.HeldOutPrompts < 1) throw new ArgumentException("calibration needs at least one calibration and one held-out prompt per task");
        int layers = model.Config.NLayers;
        var profiles = new List<TaskProfile>();
        var details = new List<CalibrationDetail>();
        using var routed = model.CreateSession(new SessionOptions { Threads = o.Threads, Routers = routers, RouterThreshold = o.Threshold });
        using var full = model.CreateSession(new SessionOptions { Threads = o.Threads });

        try
        {
            foreach (var task in tasks)
            {
                // The bar counts prompts routed, then held-out prompts measured, then the latency run.
                string stage = $"{task.Name}: mask";
                long total = o.CalibrationPrompts + o.HeldOutPrompts + 1, done = 0;
                // 1. Route the calibration prompts; count masks and layer use, sum p_l.
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                var keptCounts = new int[layers];
                var meanP = new double[layers];
                var calibration = task.Samples(o.CalibrationPrompts, o.Seed);
                foreach (var e in calibration)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    routed.Reset();
                    routed.Prefill(tokenizer.Encode(e.Prompt), cancellationToken);
                    var decision = routed.Routing!;
                    counts[decision.Mask.ToString()] = counts.GetValueOrDefault(decision.Mask.ToString()) + 1;
                    for (int l = 0; l < layers; l++)
                    {
                        meanP[l] += decision.Probabilities[l] / calibration.Count;
                        if (decision.Mask.IsKept(l)) keptCounts[l]++;
                    }
                    progress?.Invoke(new PassProgress(stage, ++done, total));
                }
                var mask = ChooseMask(counts, keptCounts, calibration.Count, o.KeepShare);
                List<(string, double)>? ladder = null;
                if (o.MaxExactMatchDrop is { } drop)
                {
                    var scorer = new MaskScorer(model, tokenizer, task.Name, calibration, o, progress, cancellationToken);
                    var ranking = Ranking(keptCounts, meanP);
                    if (o.Search == MaskSearch.Elimination)
                    {
                        scorer.Expect(layers * (layers + 1) / 2);
                        (mask, double exact) = Eliminate(scorer.ExactMatch, scorer.Full, ranking, drop);
                        ladder = scorer.Tried(mask, exact);
                    }
                    else (mask, ladder) = LeanestWithin(scorer, Ladder(ranking), drop);
                    scorer.Finish(ladder, mask, drop);
                }
                progress?.Invoke(new PassProgress(stage, done, total) { Line = $"{task.Name}: mask {mask} from {counts.Count} distinct router masks on {calibration.Count} prompts", Finding = true });

                // 2. Measure on held-out prompts: full vs masked.
                using var masked = model.CreateSession(new SessionOptions { Threads = o.Threads, Mask = mask });
                var heldOut = task.Samples(o.HeldOutPrompts, TaskEvaluation.HeldOutSeed);
                int rightFull = 0, rightMasked = 0;
                long agreeing = 0, fullTokens = 0;
                foreach (var e in heldOut)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int[] ids = tokenizer.Encode(e.Prompt);
                    int max = e.Answer.Length + 4;
                    var a = Greedy.Decode(full, ids, max, tokenizer.EosId);
                    var b = Greedy.Decode(masked, ids, max, tokenizer.EosId);
                    if (TaskEvaluation.Text(tokenizer, a) == e.Answer) rightFull++;
                    if (TaskEvaluation.Text(tokenizer, b) == e.Answer) rightMasked++;
                    fullTokens += a.Count;
                    for (int i = 0; i < Math.Min(a.Count, b.Count); i++) if (a[i] == b[i]) agreeing++;
                    progress?.Invoke(new PassProgress(stage, ++done, total));
                }
                var (msFull, msMasked) = Latency(full, masked, tokenizer.Encode(heldOut.MinBy(e => e.Prompt.Length).Prompt), o, cancellationToken);
                var profile = new TaskProfile
                {
                    Name = task.Name,
                    KeptLayers = mask.KeptLayers.ToArray(),
                    AccuracyFull = (double)rightFull / heldOut.Count,
                    AccuracyMasked = (double)rightMasked / heldOut.Count,
                    Agreement = fullTokens == 0 ? 1 : (double)agreeing / fullTokens,
                    MsPerTokenFull = msFull,
                    MsPerTokenMasked = msMasked,
                    Speedup = msFull / msMasked,
                    Prompts = calibration.Count,
                    MeanP = meanP,
                };
                progress?.Invoke(new PassProgress(stage, total, total)
                {
                    Line = $"{task.Name}: exact match full {profile.AccuracyFull:P1}, masked {profile.AccuracyMasked:P1}, agreement {profile.Agreement:P1}, {msFull:F4} -> {msMasked:F4} ms/token",
                    Finding = true,
                });
                profiles.Add(profile);
                details.Add(new CalibrationDetail(task.Name, counts, ladder));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RunCancelledException(profiles.Count, tasks.Count, "tasks' masks", cancellationToken);
        }
        var result = new ModelProfile { Model = model.Config, Routers = new RouterReference(routersFile, o.Threshold), Tasks = profiles };
        return (result, details);
    }

    /// <summary>
    /// The commonest mask (ties: the one keeping more layers, then the lexically larger), plus every layer kept
    /// on more than <paramref name="keepShare"/> of the prompts.
    /// </summary>
    public static LayerMask ChooseMask(IReadOnlyDictionary<string, int> counts, IReadOnlyList<int> keptCounts, int prompts, double keepShare)
    {
        string commonest = counts.OrderByDescending(kv => kv.Value).ThenByDescending(kv => kv.Key.Count(c => c == '1'))
                                 .ThenByDescending(kv => kv.Key, StringComparer.Ordinal).First().Key;
        var flags = new bool[keptCounts.Count];
        for (int l = 0; l < flags.Length; l++) flags[l] = commonest[l] == '1' || keptCounts[l] > keepShare * prompts;
        // A task that skips every layer is not a decode path the generator accepts: keep the most used layer.
        if (!flags.Contains(true)) flags[Enumerable.Range(0, flags.Length).MaxBy(l => keptCounts[l])] = true;
        return LayerMask.FromFlags(flags);
    }

    /// <summary>
    /// The masks that keep the first 1, 2, ..., n layers of the routers' ranking: kept on the most prompts first,
    /// then the higher mean probability, then the shallower.
    /// </summary>
    public static IReadOnlyList<LayerMask> Ladder(IReadOnlyList<int> keptCounts, IReadOnlyList<double> meanP) => Ladder(Ranking(keptCounts, meanP));

    /// <summary>The layers in the routers' order: kept on the most prompts first, then the higher mean probability, then the shallower.</summary>
    private static IReadOnlyList<int> Ranking(IReadOnlyList<int> keptCounts, IReadOnlyList<double> meanP) =>
        [.. Enumerable.Range(0, keptCounts.Count).OrderByDescending(l => keptCounts[l]).ThenByDescending(l => meanP[l]).ThenBy(l => l)];

    private static IReadOnlyList<LayerMask> Ladder(IReadOnlyList<int> ranking)
    {
        var flags = new bool[ranking.Count];
        var ladder = new List<LayerMask>();
        foreach (int l in ranking)
        {
            flags[l] = true;
            ladder.Add(LayerMask.FromFlags(flags));
        }
        return ladder;
    }

    /// <summary>
    /// The first mask of <paramref name="ladder"/> whose exact match is at most <paramref name="maxDrop"/> below the
    /// full model's, and every exact match measured on the way (the full model's first). The ladder ends with
    /// every layer, which always qualifies.
    /// </summary>
    private static (LayerMask Mask, List<(string, double)> Tried) LeanestWithin(MaskScorer scorer, IReadOnlyList<LayerMask> ladder, double maxDrop)
    {
        scorer.Expect(ladder.Count - 1);
        foreach (var mask in ladder)
        {
            // Every layer kept is the full model, measured already.
            double masked = mask.KeptCount == ladder[^1].KeptCount ? scorer.Full : scorer.ExactMatch(mask);
            if (Within(masked, scorer.Full, maxDrop)) return (mask, scorer.Tried(mask, masked));
        }
        throw new InvalidOperationException("the ladder ends with every layer kept, which matches the full model");
    }

    /// <summary>
    /// <see cref="MaskSearch.Elimination"/> over <paramref name="exactMatch"/>, with the full model's at
    /// <paramref name="full"/>; <paramref name="ranking"/>, the routers' order (most used first), breaks ties.
    /// Returns the mask chosen and its exact match.
    /// </summary>
    internal static (LayerMask Mask, double ExactMatch) Eliminate(Func<LayerMask, double> exactMatch, double full, IReadOnlyList<int> ranking, double maxDrop)
    {
        int layers = ranking.Count;
        // Least used first.
        var candidates = ranking.Reverse().ToList();
        var kept = Enumerable.Repeat(true, layers).ToArray();
        var (chosen, chosenMatch) = (LayerMask.FromFlags(kept), full);
        while (candidates.Count > 0 && kept.Count(k => k) > 1)
        {
            (int Layer, double ExactMatch)? best = null;
            foreach (int l in candidates.ToList())
            {
                kept[l] = false;
                double masked = exactMatch(LayerMask.FromFlags(kept));
                kept[l] = true;
                // A layer the task cannot do without now it will not do without once more are gone: not tried again.
                if (!Within(masked, full, maxDrop)) candidates.Remove(l);
                // Strictly higher: on a tie the layer the routers used less, tried first, goes.
                else if (best is null || masked > best.Value.ExactMatch) best = (l, masked);
            }
            if (best is not { } b) break;
            kept[b.Layer] = false;
            candidates.Remove(b.Layer);
            (chosen, chosenMatch) = (LayerMask.FromFlags(kept), b.ExactMatch);
        }
        return (chosen, chosenMatch);
    }

    // Both are counts over the same prompts: the tolerance keeps 0.99 - 0.01 from missing 0.98.
    private static bool Within(double masked, double full, double maxDrop) => masked >= full - maxDrop - 1e-9;

    /// <summary>
    /// Exact match of masks on one task's calibration prompts, each measurement recorded and counted on the task's
    /// "quality" bar; the full model's is measured first.
    /// </summary>
    private sealed class MaskScorer
    {
        private readonly LlamaModel _model;
        private readonly TextTokenizer _tokenizer;
        private readonly string _task;
        private readonly IReadOnlyList<TaskExample> _examples;
        private readonly CalibrationOptions _o;
        private readonly Action<PassProgress>? _progress;
        private readonly CancellationToken _cancellationToken;
        private readonly List<(string, double)> _tried = [];
        private long _done, _total;

        public MaskScorer(LlamaModel model, TextTokenizer tokenizer, string task, IReadOnlyList<TaskExample> examples, CalibrationOptions o,
                          Action<PassProgress>? progress, CancellationToken cancellationToken)
        {
            (_model, _tokenizer, _task, _examples, _o, _progress, _cancellationToken) = (model, tokenizer, task, examples, o, progress, cancellationToken);
            _total = examples.Count;
            Full = Measure(null);
            _tried.Add((CalibrationDetail.FullModelName, Full));
        }

        private string Stage => $"{_task}: quality";

        /// <summary>The full model's exact match.</summary>
        public double Full { get; }

        /// <summary>Sizes the bar for at most <paramref name="masks"/> more measurements.</summary>
        public void Expect(int masks) => _total = _done + (long)masks * _examples.Count;

        public double ExactMatch(LayerMask mask)
        {
            double value = Measure(mask);
            _tried.Add((mask.ToString(), value));
            return value;
        }

        /// <summary>Every measurement so far, ending with the chosen mask (recorded again if it was measured earlier).</summary>
        public List<(string, double)> Tried(LayerMask chosen, double exactMatch)
        {
            if (_tried[^1].Item1 != chosen.ToString() || _tried.Count == 1) _tried.Add((chosen.ToString(), exactMatch));
            return _tried;
        }

        /// <summary>Fills the bar and prints what was tried (up to 12 masks) and chosen.</summary>
        public void Finish(IReadOnlyList<(string Mask, double ExactMatch)> tried, LayerMask chosen, double maxDrop)
        {
            var shown = tried.Count <= 13 ? tried : [.. tried.Take(12), ("...", double.NaN)];
            string list = string.Join(", ", shown.Select(t => double.IsNaN(t.ExactMatch) ? t.Mask : $"{t.Mask} {t.ExactMatch:P1}"));
            _progress?.Invoke(new PassProgress(Stage, _total, _total)
            {
                Line = $"{_task}: {list} on {_examples.Count} calibration prompts ({tried.Count - 1} masks tried); the leanest within {maxDrop * 100:0.##} point{(Math.Abs(maxDrop - 0.01) < 1e-12 ? "" : "s")} is {chosen}",
                Finding = true,
            });
        }

        private double Measure(LayerMask? mask)
        {
            using var session = _model.CreateSession(new SessionOptions { Threads = _o.Threads, Mask = mask });
            int right = 0;
            foreach (var e in _examples)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                if (TaskEvaluation.Answer(session, _tokenizer, e.Prompt, e.Answer.Length + 4) == e.Answer) right++;
                _done++;
                _progress?.Invoke(new PassProgress(Stage, _done, Math.Max(_done, _total)));
            }
            return (double)right / _examples.Count;
        }
    }

    /// <summary>Median decode ms/token of both sessions, repetitions interleaved so drift hits both alike.</summary>
    private static (double Full, double Masked) Latency(InferenceSession full, InferenceSession masked, int[] prompt, CalibrationOptions o,
                                                        CancellationToken cancellationToken)
    {
        var a = new double[o.LatencyRepetitions];
        var b = new double[o.LatencyRepetitions];
        Time(full, prompt, o.LatencyTokens, cancellationToken); // warm-up: JIT, caches
        Time(masked, prompt, o.LatencyTokens, cancellationToken);
        for (int r = 0; r < o.LatencyRepetitions; r++)
        {
            a[r] = Time(full, prompt, o.LatencyTokens, cancellationToken);
            b[r] = Time(masked, prompt, o.LatencyTokens, cancellationToken);
        }
        return (Median(a), Median(b));
    }

    private static double Time(InferenceSession session, int[] prompt, int tokens, CancellationToken cancellationToken)
    {
        session.Reset();
        int next = Greedy.ArgMax(session.Prefill(prompt, cancellationToken));
        int steps = Math.Min(tokens, session.Remaining);
        long start = Stopwatch.GetTimestamp();
        Greedy.Steps(session, next, steps, cancellationToken);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds / Math.Max(1, steps);
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }
}
