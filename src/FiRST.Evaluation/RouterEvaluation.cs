using FiRST.Runtime;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Tasks;

namespace FiRST.Evaluation;

/// <summary>Quality and layer use of routers on one task, each prompt routed on its own (C# runtime).</summary>
/// <param name="Task">The task.</param>
/// <param name="Prompts">Held-out prompts.</param>
/// <param name="AccuracyFull">Exact match of the full model.</param>
/// <param name="AccuracyRouted">Exact match with the routers choosing the layers per prompt.</param>
/// <param name="SkippedShare">Mean share of layers skipped.</param>
/// <param name="MostCommonMask">The mask chosen most often.</param>
/// <param name="MaskCounts">How many prompts the routers gave each mask.</param>
public sealed record RoutedTaskResult(string Task, int Prompts, double AccuracyFull, double AccuracyRouted, double SkippedShare, string MostCommonMask,
                                      IReadOnlyDictionary<string, int> MaskCounts);

/// <summary>Quality and layer use of routers on held-out self-generated text.</summary>
/// <param name="Sequences">Sequences evaluated.</param>
/// <param name="Agreement">Share of continuation positions whose greedy next token equals the full model's (same context).</param>
/// <param name="SkippedShare">Mean share of layers skipped.</param>
/// <param name="MostCommonMask">The mask chosen most often.</param>
public sealed record RoutedTextResult(int Sequences, double Agreement, double SkippedShare, string MostCommonMask);

/// <summary>Measures trained routers with the C# runtime, the way they run in production: routed prefill, fixed mask for decode.</summary>
public static class RouterEvaluation
{
    /// <summary>
    /// Per task: accuracy full and routed, share skipped, the commonest mask. <paramref name="cancellationToken"/>
    /// stops it before the next prompt.
    /// </summary>
    public static IReadOnlyList<RoutedTaskResult> Tasks(LlamaModel model, TextTokenizer tokenizer, RouterSet routers, float threshold,
                                                        IEnumerable<TaskGenerator> tasks, int prompts, int seed = TaskEvaluation.HeldOutSeed,
                                                        CancellationToken cancellationToken = default)
    {
        var results = new List<RoutedTaskResult>();
        using var full = model.CreateSession(new SessionOptions { Threads = 1 });
        using var routed = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = threshold });
        foreach (var task in tasks)
        {
            var examples = task.Samples(prompts, seed);
            int correctFull = 0, correctRouted = 0;
            double skipped = 0;
            var masks = new Dictionary<string, int>();
            foreach (var e in examples)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (TaskEvaluation.Answer(full, tokenizer, e.Prompt, e.Answer.Length + 4) == e.Answer) correctFull++;
                if (TaskEvaluation.Answer(routed, tokenizer, e.Prompt, e.Answer.Length + 4) == e.Answer) correctRouted++;
                var mask = routed.Routing!.Mask;
                skipped += 1 - (double)mask.KeptCount / mask.LayerCount;
                masks[mask.ToString()] = masks.GetValueOrDefault(mask.ToString()) + 1;
            }
            int n = examples.Count;
            results.Add(new RoutedTaskResult(task.Name, n, (double)correctFull / n, (double)correctRouted / n, skipped / n,
                Commonest(masks), masks));
        }
        return results;
    }

    private static string Commonest(Dictionary<string, int> masks) =>
        masks.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;

    /// <summary>
    /// Teacher-forced agreement with the full model on the continuations of <paramref name="sequences"/>
    /// (each routed on its first <paramref name="promptLength"/> tokens). <paramref name="cancellationToken"/> stops
    /// it before the next sequence.
    /// </summary>
    public static RoutedTextResult Text(LlamaModel model, RouterSet routers, float threshold, IReadOnlyList<int[]> sequences, int promptLength,
                                        CancellationToken cancellationToken = default)
    {
        using var full = model.CreateSession(new SessionOptions { Threads = 1 });
        using var routed = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = threshold });
        long same = 0, total = 0;
        double skipped = 0;
        var masks = new Dictionary<string, int>();
        foreach (var s in sequences)
        {
            cancellationToken.ThrowIfCancellationRequested();
            full.Reset();
            routed.Reset();
            var prompt = s.AsSpan(0, promptLength);
            int a = Greedy.ArgMax(full.Prefill(prompt)), b = Greedy.ArgMax(routed.Prefill(prompt));
            for (int t = promptLength; ; t++)
            {
                total++;
                if (a == b) same++;
                if (t >= s.Length) break;
                a = Greedy.ArgMax(full.Forward(s[t]));
                b = Greedy.ArgMax(routed.Forward(s[t]));
            }
            var mask = routed.Routing!.Mask;
            skipped += 1 - (double)mask.KeptCount / mask.LayerCount;
            masks[mask.ToString()] = masks.GetValueOrDefault(mask.ToString()) + 1;
        }
        return new RoutedTextResult(sequences.Count, (double)same / total, skipped / sequences.Count,
            Commonest(masks));
    }
}
