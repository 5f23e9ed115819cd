using System.Globalization;

namespace FiRST.Evaluation.Tasks;

/// <summary>Tasks with relative weights, drawn at random for training batches.</summary>
public sealed class TaskMix
{
    private readonly double[] _cumulative;

    private TaskMix(IReadOnlyList<TaskGenerator> tasks, double[] weights)
    {
        Tasks = tasks;
        _cumulative = new double[weights.Length];
        double total = weights.Sum(), running = 0;
        for (int i = 0; i < weights.Length; i++) _cumulative[i] = (running += weights[i]) / total;
        _equal = weights.All(w => w == weights[0]);
    }

    private readonly bool _equal;

    /// <summary>The tasks, in the order given.</summary>
    public IReadOnlyList<TaskGenerator> Tasks { get; }

    /// <summary>The share of draws that give task <paramref name="index"/>.</summary>
    public double Share(int index) => _cumulative[index] - (index == 0 ? 0 : _cumulative[index - 1]);

    /// <summary>Parses <c>"copy=1,add=4"</c>: standard task names with positive weights.</summary>
    public static TaskMix Parse(string text)
    {
        var tasks = new List<TaskGenerator>();
        var weights = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || !double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double w) || !(w > 0) || double.IsInfinity(w))
                throw new ArgumentException($"task weight '{part}' is not name=positive number");
            var task = TaskGenerator.Find(kv[0]);
            if (tasks.Contains(task)) throw new ArgumentException($"task '{kv[0]}' is weighted twice");
            tasks.Add(task);
            weights.Add(w);
        }
        if (tasks.Count == 0) throw new ArgumentException("the task mix names no task");
        return new TaskMix(tasks, [.. weights]);
    }

    /// <summary>The tasks with equal weights.</summary>
    public static TaskMix Uniform(IReadOnlyList<TaskGenerator> tasks)
    {
        if (tasks.Count == 0) throw new ArgumentException("the task mix names no task");
        return new TaskMix(tasks, tasks.Select(_ => 1.0).ToArray());
    }

    /// <summary>Draws a task with probability proportional to its weight.</summary>
    public TaskGenerator Draw(Random rng)
    {
        // Equal weights draw an index, as the first training runs did: the committed model's data stream
        // stays reproducible.
        if (_equal) return Tasks[rng.Next(Tasks.Count)];
        double u = rng.NextDouble();
        for (int i = 0; i < _cumulative.Length - 1; i++)
            if (u < _cumulative[i]) return Tasks[i];
        return Tasks[^1];
    }
}
