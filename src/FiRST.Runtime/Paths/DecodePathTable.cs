namespace FiRST.Runtime.Paths;

/// <summary>
/// Maps layer masks to the decode paths compiled for them. The dispatcher asks it for the path of the mask
/// prefill chose; a mask with no compiled path runs on <see cref="MaskedPath"/>. Immutable once built.
/// </summary>
public sealed class DecodePathTable
{
    private readonly Dictionary<LayerMask, IDecodePath> _paths = new();

    /// <summary>Creates a table of <paramref name="paths"/>; two paths for the same mask are an error.</summary>
    public DecodePathTable(IEnumerable<IDecodePath> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (var path in paths)
            if (!_paths.TryAdd(path.Mask, path))
                throw new ArgumentException($"two paths for the mask {path.Mask}", nameof(paths));
    }

    /// <summary>Number of compiled paths.</summary>
    public int Count => _paths.Count;

    /// <summary>The compiled path for <paramref name="mask"/>, if there is one.</summary>
    public bool TryGet(LayerMask mask, out IDecodePath path) => _paths.TryGetValue(mask, out path!);

    /// <summary>The compiled path for <paramref name="mask"/>, or the generic <see cref="MaskedPath"/>.</summary>
    public IDecodePath Resolve(LayerMask mask) => TryGet(mask, out var path) ? path : new MaskedPath(mask);
}
