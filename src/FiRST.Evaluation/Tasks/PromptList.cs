using System.Text.Json;

namespace FiRST.Evaluation.Tasks;

/// <summary>A hand-written prompt and the answer expected; a null answer means the model should refuse it.</summary>
/// <param name="Prompt">What a user types.</param>
/// <param name="Answer">The exact answer, or null when the prompt is outside every task's grammar.</param>
public sealed record CheckedPrompt(string Prompt, string? Answer);

/// <summary>
/// Hand-written prompt lists (JSON Lines): <c>{"prompt": "copy hi =>", "answer": "hi"}</c> for a prompt the
/// model must answer, <c>{"prompt": "hello", "refused": true}</c> for one it must refuse. Unlike held-out
/// prompts, drawn from the tasks' own generators, these are what people type first.
/// </summary>
public static class PromptList
{
    private const long MaxBytes = 1L << 20;

    /// <summary>Reads a list.</summary>
    /// <exception cref="FiRST.Runtime.ModelLoadException">Missing, empty, too large, or a line that is not such an object.</exception>
    public static IReadOnlyList<CheckedPrompt> Load(string path)
    {
        var list = new List<CheckedPrompt>();
        JsonLines.Read(path, MaxBytes, "prompt list", (root, field) =>
        {
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String)
                throw new FiRST.Runtime.ModelLoadException(path, field, "expected {\"prompt\": \"...\", \"answer\": \"...\"} or {\"prompt\": \"...\", \"refused\": true}");
            bool refused = root.TryGetProperty("refused", out var r) && r.ValueKind == JsonValueKind.True;
            bool hasAnswer = root.TryGetProperty("answer", out var answer);
            if (refused == hasAnswer || (hasAnswer && answer.ValueKind != JsonValueKind.String))
                throw new FiRST.Runtime.ModelLoadException(path, field, "give either \"answer\" (a string) or \"refused\": true");
            list.Add(new CheckedPrompt(prompt.GetString()!, hasAnswer ? answer.GetString() : null));
        });
        if (list.Count == 0) throw new FiRST.Runtime.ModelLoadException(path, "", "the prompt list holds no prompts");
        return list;
    }
}
