using FiRST.Runtime;
using FiRST.Runtime.Decoding;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Tasks;

namespace FiRST.Evaluation;

/// <summary>Exact-match accuracy of one task, with the full model and with early exit after each layer.</summary>
/// <param name="Task">The task's name.</param>
/// <param name="Prompts">Held-out prompts evaluated.</param>
/// <param name="ByExitLayer">Accuracy when exiting after layer k (index k-1; the last entry is the full model).</param>
public sealed record TaskAccuracy(string Task, int Prompts, IReadOnlyList<double> ByExitLayer)
{
    /// <summary>Accuracy of the full model.</summary>
    public double Full => ByExitLayer[^1];

    /// <summary>The full model's accuracy per length bucket (short, medium, long); empty when the task has no buckets.</summary>
    public IReadOnlyList<BucketAccuracy> Buckets { get; init; } = [];
}

/// <summary>The full model's exact-match accuracy on the held-out prompts of one length bucket.</summary>
/// <param name="Bucket">The bucket.</param>
/// <param name="Prompts">Held-out prompts that fell into it.</param>
/// <param name="Accuracy">Share of them answered exactly.</param>
public sealed record BucketAccuracy(LengthBucket Bucket, int Prompts, double Accuracy);

/// <summary>What became of one hand-written prompt.</summary>
/// <param name="Prompt">The prompt and what was expected.</param>
/// <param name="Refusal">Why the grammar refused it, or null when it was accepted.</param>
/// <param name="Answer">The full model's greedy answer when accepted.</param>
public sealed record PromptVerdict(CheckedPrompt Prompt, string? Refusal, string? Answer)
{
    /// <summary>Refused when it should be; else accepted and answered exactly.</summary>
    public bool Right => Prompt.Answer is null ? Refusal is not null : Refusal is null && Answer == Prompt.Answer;
}

/// <summary>Exact-match accuracy of one task with the runtime's token-level early exit.</summary>
/// <param name="Task">The task's name.</param>
/// <param name="Prompts">Held-out prompts evaluated.</param>
/// <param name="Accuracy">Share of answers equal to the expected ones.</param>
/// <param name="MeanExitDepth">Mean number of layers a decoded token ran through.</param>
public sealed record EarlyExitAccuracy(string Task, int Prompts, double Accuracy, double MeanExitDepth);

/// <summary>
/// Evaluates a model on the procedural tasks with the C# runtime: greedy decoding of held-out prompts until
/// EOS, exact match against the answer. Early exit after layer k runs layers 0..k-1 and reads the final norm
/// and classifier there (the residual stream passes the skipped layers unchanged).
/// </summary>
public static class TaskEvaluation
{
    /// <summary>Seed of the held-out prompts; training draws from another stream.</summary>
    public const int HeldOutSeed = 99_991;

    /// <summary>
    /// Accuracy per task and exit layer; <paramref name="cancellationToken"/> stops it before the next prompt (each
    /// finished exit layer has had its <paramref name="progress"/> line).
    /// </summary>
    public static IReadOnlyList<TaskAccuracy> Run(LlamaModel model, TextTokenizer tokenizer, IEnumerable<TaskGenerator> tasks, int prompts, bool everyLayer,
                                                  Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var results = new List<TaskAccuracy>();
        int layers = model.Config.NLayers;
        foreach (var task in tasks)
        {
            var examples = task.Samples(prompts, HeldOutSeed);
            var accuracy = new double[layers];
            var buckets = new SortedDictionary<LengthBucket, (int Prompts, int Right)>();
            for (int exit = everyLayer ? 1 : layers; exit <= layers; exit++)
            {
                var mask = LayerMask.FromKept(layers, Enumerable.Range(0, exit));
                using var session = model.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
                int correct = 0;
                foreach (var e in examples)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    bool right = Answer(session, tokenizer, e.Prompt, e.Answer.Length + 4) == e.Answer;
                    if (right) correct++;
                    if (exit == layers && task.Bucket(e.Prompt) is { } bucket)
                    {
                        var (n, r) = buckets.GetValueOrDefault(bucket);
                        buckets[bucket] = (n + 1, r + (right ? 1 : 0));
                    }
                }
                accuracy[exit - 1] = (double)correct / examples.Count;
                progress?.Invoke($"{task.Name}: exit after layer {exit}/{layers}: {accuracy[exit - 1]:P1}");
            }
            results.Add(new TaskAccuracy(task.Name, examples.Count, accuracy)
            {
                Buckets = buckets.Select(b => new BucketAccuracy(b.Key, b.Value.Prompts, (double)b.Value.Right / b.Value.Prompts)).ToArray(),
            });
        }
        return results;
    }

    /// <summary>
    /// Accuracy per task with the runtime's early exit (<paramref name="earlyExit"/> on the full model's
    /// dynamic path): unlike the fixed exits of <see cref="Run"/>, each token leaves where its own top
    /// probability first reaches the threshold. The same held-out prompts as <see cref="Run"/>;
    /// <paramref name="cancellationToken"/> stops it within a token.
    /// </summary>
    public static IReadOnlyList<EarlyExitAccuracy> RunEarlyExit(LlamaModel model, TextTokenizer tokenizer, IEnumerable<TaskGenerator> tasks, int prompts,
                                                                EarlyExitOptions earlyExit, Action<string>? progress = null,
                                                                CancellationToken cancellationToken = default)
    {
        // Through generation runs: their statistics carry the exit depths.
        var generator = new TextGenerator(model, tokenizer, new SessionOptions { EarlyExit = earlyExit, Policy = PathPolicy.Dynamic, Threads = 1 });
        var results = new List<EarlyExitAccuracy>();
        foreach (var task in tasks)
        {
            var examples = task.Samples(prompts, HeldOutSeed);
            int correct = 0;
            long steps = 0;
            double layers = 0;
            foreach (var e in examples)
            {
                var run = generator.Generate(e.Prompt, new GenerationOptions
                {
                    Sampling = new SamplerOptions { Temperature = 0 },
                    MaxSteps = 0,
                    MaxNewTokens = e.Answer.Length + 4,
                    StopTokens = [tokenizer.EosId],
                }, cancellationToken);
                if (Text(tokenizer, run.Select(t => t.Id).ToList()) == e.Answer) correct++;
                steps += run.Stats.DecodeSteps;
                layers += run.Stats.MeanExitDepth * run.Stats.DecodeSteps;
            }
            var result = new EarlyExitAccuracy(task.Name, examples.Count, (double)correct / examples.Count, steps == 0 ? 0 : layers / steps);
            results.Add(result);
            progress?.Invoke($"{task.Name}: early exit: {result.Accuracy:P1}, mean depth {result.MeanExitDepth:F2} layers");
        }
        return results;
    }

    /// <summary>
    /// Each hand-written prompt checked against <paramref name="tasks"/>' grammar and, when inside it, answered
    /// greedily by the full model: right when a prompt meant to be refused is refused, and one meant to be
    /// answered is accepted and answered exactly. <paramref name="cancellationToken"/> stops it before the next prompt.
    /// </summary>
    public static IReadOnlyList<PromptVerdict> RunPromptList(LlamaModel model, TextTokenizer tokenizer, IReadOnlyList<TaskGenerator> tasks, IReadOnlyList<CheckedPrompt> prompts,
                                                             CancellationToken cancellationToken = default)
    {
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        var verdicts = new List<PromptVerdict>();
        foreach (var p in prompts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? refusal = TaskGrammar.Refusal(p.Prompt, tasks);
            // Room for a longer wrong answer than the expected one, within the context.
            int room = model.Config.MaxSeqLen - tokenizer.Encode(p.Prompt).Length;
            string? answer = refusal is null ? Answer(session, tokenizer, p.Prompt, Math.Min(room, (p.Answer?.Length ?? 16) + 4)) : null;
            verdicts.Add(new PromptVerdict(p, refusal, answer));
        }
        return verdicts;
    }

    /// <summary>The hand-written prompts' verdicts as a Markdown table.</summary>
    public static string Markdown(IReadOnlyList<PromptVerdict> verdicts)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"Hand-written prompts: {verdicts.Count(v => v.Right)} of {verdicts.Count} right.").AppendLine();
        sb.AppendLine("| prompt | expected | got | |").AppendLine("|---|---|---|---|");
        foreach (var v in verdicts)
            sb.AppendLine($"| `{v.Prompt.Prompt}` | {Cell(v.Prompt.Answer)} | {(v.Refusal is not null ? "refused" : Cell(v.Answer))} | {(v.Right ? "ok" : "**wrong**")} |");
        return sb.ToString();

        static string Cell(string? text) => text is null ? "refused" : $"`{text}`";
    }

    /// <summary>Greedy answer to <paramref name="prompt"/>: the text generated until EOS, without the separating space.</summary>
    public static string Answer(InferenceSession session, TextTokenizer tokenizer, string prompt, int maxTokens) =>
        Text(tokenizer, Greedy.Decode(session, tokenizer.Encode(prompt), maxTokens, tokenizer.EosId));

    /// <summary>
    /// The text of greedy tokens: trailing EOS dropped, without the space that separates it from the prompt
    /// (<see cref="TextTokenizer.Decode"/> drops a sequence's leading space).
    /// </summary>
    public static string Text(TextTokenizer tokenizer, List<int> tokens)
    {
        int n = tokens.Count > 0 && tokens[^1] == tokenizer.EosId ? tokens.Count - 1 : tokens.Count;
        return tokenizer.Decode(tokens.GetRange(0, n).ToArray());
    }

    /// <summary>
    /// The accuracy table as Markdown: one row per task, one column per exit layer; with
    /// <paramref name="earlyExit"/> (one entry per task, in the same order), the runtime's early exit after the
    /// full model's column and its mean exit depth.
    /// </summary>
    public static string Markdown(IReadOnlyList<TaskAccuracy> results, int layers, IReadOnlyList<EarlyExitAccuracy>? earlyExit = null, float threshold = 0)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("| task | prompts |");
        for (int k = 1; k <= layers; k++) sb.Append(k == layers ? $" full ({k}) |" : $" exit {k} |");
        if (earlyExit is not null) sb.Append(System.FormattableString.Invariant($" early exit {threshold:0.###} | mean exit depth |"));
        sb.AppendLine().Append("|---|---:|");
        for (int k = 1; k <= layers; k++) sb.Append("---:|");
        if (earlyExit is not null) sb.Append("---:|---:|");
        sb.AppendLine();
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            sb.Append($"| {r.Task} | {r.Prompts} |");
            foreach (double a in r.ByExitLayer) sb.Append($" {a * 100:F1}% |");
            if (earlyExit is not null) sb.Append($" {earlyExit[i].Accuracy * 100:F1}% | {earlyExit[i].MeanExitDepth:F2} |");
            sb.AppendLine();
        }
        if (results.Any(r => r.Buckets.Count > 0))
        {
            sb.AppendLine().AppendLine("Full model by length bucket (prompts in the bucket, exact match):").AppendLine();
            sb.AppendLine("| task | short | medium | long |").AppendLine("|---|---:|---:|---:|");
            foreach (var r in results.Where(r => r.Buckets.Count > 0))
            {
                sb.Append($"| {r.Task} |");
                foreach (var bucket in Enum.GetValues<LengthBucket>())
                    sb.Append(r.Buckets.FirstOrDefault(b => b.Bucket == bucket) is { } b ? $" {b.Accuracy * 100:F1}% ({b.Prompts}) |" : " - |");
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }
}
