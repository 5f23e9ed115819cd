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

    /// <summary>Accuracy per task and exit layer.</summary>
    public static IReadOnlyList<TaskAccuracy> Run(LlamaModel model, TextTokenizer tokenizer, IEnumerable<TaskGenerator> tasks, int prompts, bool everyLayer, Action<string>? progress = null)
    {
        var results = new List<TaskAccuracy>();
        int layers = model.Config.NLayers;
        foreach (var task in tasks)
        {
            var examples = task.Samples(prompts, HeldOutSeed);
            var accuracy = new double[layers];
            for (int exit = everyLayer ? 1 : layers; exit <= layers; exit++)
            {
                var mask = LayerMask.FromKept(layers, Enumerable.Range(0, exit));
                using var session = model.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
                int correct = 0;
                foreach (var e in examples)
                    if (Answer(session, tokenizer, e.Prompt, e.Answer.Length + 4) == e.Answer) correct++;
                accuracy[exit - 1] = (double)correct / examples.Count;
                progress?.Invoke($"{task.Name}: exit after layer {exit}/{layers}: {accuracy[exit - 1]:P1}");
            }
            results.Add(new TaskAccuracy(task.Name, examples.Count, accuracy));
        }
        return results;
    }

    /// <summary>
    /// Accuracy per task with the runtime's early exit (<paramref name="earlyExit"/> on the full model's
    /// dynamic path): unlike the fixed exits of <see cref="Run"/>, each token leaves where its own top
    /// probability first reaches the threshold. The same held-out prompts as <see cref="Run"/>.
    /// </summary>
    public static IReadOnlyList<EarlyExitAccuracy> RunEarlyExit(LlamaModel model, TextTokenizer tokenizer, IEnumerable<TaskGenerator> tasks, int prompts,
                                                                EarlyExitOptions earlyExit, Action<string>? progress = null)
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
                });
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

    /// <summary>Greedy answer to <paramref name="prompt"/>: the text generated until EOS, without the separating space.</summary>
    public static string Answer(InferenceSession session, TextTokenizer tokenizer, string prompt, int maxTokens) =>
        Text(tokenizer, Greedy.Decode(session, tokenizer.Encode(prompt), maxTokens, tokenizer.EosId));

    /// <summary>The text of greedy tokens: trailing EOS dropped, without the space that separates it from the prompt.</summary>
    public static string Text(TextTokenizer tokenizer, List<int> tokens)
    {
        int n = tokens.Count > 0 && tokens[^1] == tokenizer.EosId ? tokens.Count - 1 : tokens.Count;
        string text = tokenizer.Decode(tokens.GetRange(0, n).ToArray());
        return text.StartsWith(' ') ? text[1..] : text;
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
        return sb.ToString();
    }
}
