namespace FiRST.Evaluation.Tasks;

/// <summary>
/// What a model trained on some tasks accepts: the check a prompt passes before it reaches the embedded model,
/// so that a prompt it was never taught gets a sentence saying so rather than a confident wrong answer.
/// </summary>
public static class TaskGrammar
{
    /// <summary>
    /// Null when <paramref name="prompt"/> is inside the grammar of one of <paramref name="tasks"/> (of
    /// <paramref name="pinned"/> only, when given); otherwise one line saying what is wrong and what is accepted.
    /// </summary>
    public static string? Refusal(string prompt, IReadOnlyList<TaskGenerator> tasks, TaskGenerator? pinned = null)
    {
        var task = pinned ?? TaskGenerator.Recognize(prompt, tasks);
        if (task is null)
            return $"'{prompt}' has the form of none of the model's tasks ({string.Join(", ", tasks.Select(t => t.Form ?? t.Name))})";
        if (!task.HasForm(prompt))
            return $"'{prompt}' is not a {task.Name} prompt: {task.Name} takes {task.Grammar ?? "the prompts it was calibrated on"}";
        return task.Problem(prompt) is { } problem
            ? $"'{prompt}' is outside what the model learned for {task.Name}: {problem} ({task.Name} takes {task.Grammar})"
            : null;
    }

    /// <summary>One entry per task: its name, its grammar and an example with its answer.</summary>
    public static IEnumerable<(string Task, string Grammar, TaskExample Example)> Describe(IEnumerable<TaskGenerator> tasks) =>
        tasks.Select(t => (t.Name, t.Grammar ?? "(no stated grammar)", t.Example ?? t.Sample(new Random(1))));
}
