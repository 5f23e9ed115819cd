using FiRST.Runtime;
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

    /// <summary>The accuracy table as Markdown: one row per task, one column per exit layer.</summary>
    public static string Markdown(IReadOnlyList<TaskAccuracy> results, int layers)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("| task | prompts |");
        for (int k = 1; k <= layers; k++) sb.Append(k == layers ? $" full ({k}) |" : $" exit {k} |");
        sb.AppendLine().Append("|---|---:|");
        for (int k = 1; k <= layers; k++) sb.Append("---:|");
        sb.AppendLine();
        foreach (var r in results)
        {
            sb.Append($"| {r.Task} | {r.Prompts} |");
            foreach (double a in r.ByExitLayer) sb.Append($" {a * 100:F1}% |");
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
