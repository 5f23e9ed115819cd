using System.Text.Json;
using FiRST.Schema;

namespace FiRST.Evaluation.Tasks;

/// <summary>A task given as fixed examples (from a task file) instead of a generator.</summary>
public sealed class FixedTask(string name, IReadOnlyList<TaskExample> examples) : TaskGenerator
{
    /// <inheritdoc />
    public override string Name { get; } = name;

    /// <summary>The examples of the file.</summary>
    public IReadOnlyList<TaskExample> Examples { get; } = examples;

    /// <inheritdoc />
    public override TaskExample Sample(Random rng) => Examples[rng.Next(Examples.Count)];

    /// <summary>A file's task has no stated form: a prompt has it when it is one of the file's prompts.</summary>
    public override bool HasForm(string prompt) => Examples.Any(e => e.Prompt == prompt);
}

/// <summary>
/// Task files for calibration on a user's own tasks: JSON Lines, one <c>{"task": "...", "prompt": "...",
/// "answer": "..."}</c> object per line, grouped by task name in file order.
/// </summary>
public static class TaskFile
{
    private const long MaxBytes = 64L << 20;

    /// <summary>Reads a task file.</summary>
    /// <exception cref="FiRST.Runtime.ModelLoadException">Missing, empty, too large, or a line that is not such an object.</exception>
    public static IReadOnlyList<FixedTask> Load(string path)
    {
        var tasks = new Dictionary<string, List<TaskExample>>(StringComparer.Ordinal);
        JsonLines.Read(path, MaxBytes, "task file", (root, field) =>
        {
            if (root.ValueKind != JsonValueKind.Object) throw new FiRST.Runtime.ModelLoadException(path, field, "expected an object {\"task\", \"prompt\", \"answer\"}");
            string task = Text(root, "task", path, field), prompt = Text(root, "prompt", path, field), answer = Text(root, "answer", path, field);
            if (TaskNameProblem(task) is { } problem) throw new FiRST.Runtime.ModelLoadException(path, field, $"task name '{task}' {problem}");
            if (!tasks.TryGetValue(task, out var list)) tasks[task] = list = [];
            list.Add(new TaskExample(prompt, answer));
        });
        if (tasks.Count == 0) throw new FiRST.Runtime.ModelLoadException(path, "", "the task file holds no examples");
        // Names that differ only in case or underscores become the same generated member (copy, Copy, co_py).
        var members = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in tasks.Keys)
        {
            string member = ProfileSchema.TaskMemberName(name);
            if (!members.TryAdd(member, name))
                throw new FiRST.Runtime.ModelLoadException(path, "task", $"the tasks '{members[member]}' and '{name}' both become '{member}' in generated code; rename one");
        }
        return tasks.Select(kv => new FixedTask(kv.Key, kv.Value)).ToArray();
    }

    private static string Text(JsonElement root, string name, string path, string field)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(value.GetString()))
            throw new FiRST.Runtime.ModelLoadException(path, field, $"'{name}' must be a non-empty string");
        return value.GetString()!;
    }

    /// <summary>What is wrong with a task name by the profile schema's rules, or null: the calibrated profile must load.</summary>
    private static string? TaskNameProblem(string name)
    {
        if (!ProfileSchema.IsTaskName(name))
            return $"is not an identifier (ASCII letters, digits and '_', not starting with a digit, at most {ProfileSchema.MaxTaskNameLength} characters)";
        string member = ProfileSchema.TaskMemberName(name);
        if (member.Length == 0) return "has no letter or digit to name generated code after";
        if (string.Equals(member, ProfileSchema.Members.Full, StringComparison.OrdinalIgnoreCase))
            return $"is reserved: generated code names the all-layers path {ProfileSchema.Members.FullPath}";
        return null;
    }

    /// <summary>
    /// Resolves a <c>--tasks</c> value: an existing file is a task file; otherwise a comma-separated list of
    /// built-in task names.
    /// </summary>
    public static IReadOnlyList<TaskGenerator> Resolve(string value)
    {
        if (File.Exists(value)) return Load(value);
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new ArgumentException("--tasks names no task");
        if (names.Length == 1 && (names[0].Contains('/') || names[0].Contains('.')))
            throw new FiRST.Runtime.ModelLoadException(names[0], "", "task file not found");
        return names.Select(TaskGenerator.Find).ToArray();
    }
}
