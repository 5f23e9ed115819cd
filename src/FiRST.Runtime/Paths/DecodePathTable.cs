namespace FiRST.Runtime.Paths;

/// <summary>
/// Maps layer masks (and task names) to the decode paths compiled for them. The dispatcher asks it for the
/// path of the mask prefill chose, or for the smallest path that keeps every layer of that mask; a mask with
/// no compiled path runs on <see cref="MaskedPath"/>. Immutable once built.
/// </summary>
public sealed class DecodePathTable
{
    private readonly Dictionary<LayerMask, IDecodePath> _paths = new();
    private readonly List<IDecodePath> _ordered = [];
    private readonly Dictionary<string, IDecodePath> _tasks = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Creates a table of <paramref name="paths"/>. Two task paths (generated paths with different task names)
    /// may share a mask: the first serves the mask, and each is found by its name (<see cref="ForTask"/>). Two
    /// other paths for the same mask are an error.
    /// </summary>
    public DecodePathTable(IEnumerable<IDecodePath> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (var path in paths)
        {
            ArgumentNullException.ThrowIfNull(path, nameof(paths));
            string? task = (path as ICompiledPath)?.Task;
            if (task is not null && !_tasks.TryAdd(task, path))
                throw new ArgumentException($"two paths for the task '{task}'", nameof(paths));
            if (_paths.TryAdd(path.Mask, path)) _ordered.Add(path);
            else if (task is null || (_paths[path.Mask] as ICompiledPath)?.Task is null)
                throw new ArgumentException($"two paths for the mask {path.Mask}", nameof(paths));
        }
    }

    /// <summary>Number of masks with a compiled path.</summary>
    public int Count => _paths.Count;

    /// <summary>The names of the task paths in the table.</summary>
    public IReadOnlyCollection<string> Tasks => _tasks.Keys;

    /// <summary>The compiled path for <paramref name="mask"/>, if there is one.</summary>
    public bool TryGet(LayerMask mask, out IDecodePath path) => _paths.TryGetValue(mask, out path!);

    /// <summary>The compiled path for <paramref name="mask"/>, or the generic <see cref="MaskedPath"/>.</summary>
    public IDecodePath Resolve(LayerMask mask) => TryGet(mask, out var path) ? path : new MaskedPath(mask);

    /// <summary>The path of the task called <paramref name="task"/> (ordinal, case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such task; the message lists the known ones.</exception>
    public IDecodePath ForTask(string task)
    {
        ArgumentNullException.ThrowIfNull(task);
        return _tasks.TryGetValue(task, out var path)
            ? path
            : throw new KeyNotFoundException(_tasks.Count == 0
                ? $"no task '{task}': these paths have no task names"
                : $"no task '{task}'; the paths have: {string.Join(", ", _tasks.Keys)}");
    }

    /// <summary>
    /// The compiled path that keeps every layer of <paramref name="mask"/> and only layers of
    /// <paramref name="loaded"/>, with the fewest layers (the first in table order on a tie); null if none.
    /// The path of exactly <paramref name="mask"/> is such a path.
    /// </summary>
    public IDecodePath? Superset(LayerMask mask, LayerMask loaded)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(loaded);
        IDecodePath? best = null;
        foreach (var path in _ordered)
        {
            var m = path.Mask;
            if (m.LayerCount != mask.LayerCount || (best is not null && m.KeptCount >= best.Mask.KeptCount)) continue;
            bool fits = true;
            for (int l = 0; l < m.LayerCount && fits; l++)
                fits = m.IsKept(l) ? loaded.IsKept(l) : !mask.IsKept(l);
            if (fits) best = path;
        }
        return best;
    }
}
