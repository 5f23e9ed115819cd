using System.Text;

namespace FiRST.Runtime;

/// <summary>
/// Which transformer layers run: a kept layer runs, a skipped layer is an identity (the residual passes
/// through unchanged) and needs neither weights nor KV storage. Immutable.
/// </summary>
public sealed class LayerMask : IEquatable<LayerMask>
{
    private readonly bool[] _kept;
    private readonly int[] _keptLayers;

    private LayerMask(bool[] kept)
    {
        _kept = kept;
        var list = new List<int>();
        for (int i = 0; i < kept.Length; i++) if (kept[i]) list.Add(i);
        _keptLayers = list.ToArray();
    }

    /// <summary>A mask that keeps all <paramref name="layers"/> layers.</summary>
    public static LayerMask All(int layers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        return new LayerMask(Enumerable.Repeat(true, layers).ToArray());
    }

    /// <summary>A mask over <paramref name="layers"/> layers that keeps exactly <paramref name="kept"/>.</summary>
    /// <exception cref="ArgumentException">An index is outside <c>[0, layers)</c> or repeated.</exception>
    public static LayerMask FromKept(int layers, IEnumerable<int> kept)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        var bits = new bool[layers];
        foreach (int l in kept)
        {
            if ((uint)l >= (uint)layers) throw new ArgumentException($"layer {l} does not exist in a model of {layers} layers", nameof(kept));
            if (bits[l]) throw new ArgumentException($"layer {l} is listed twice", nameof(kept));
            bits[l] = true;
        }
        return new LayerMask(bits);
    }

    /// <summary>A mask from one flag per layer (true = run).</summary>
    public static LayerMask FromFlags(IReadOnlyList<bool> flags)
    {
        if (flags.Count == 0) throw new ArgumentException("a mask needs at least one layer", nameof(flags));
        return new LayerMask(flags.ToArray());
    }

    /// <summary>Number of layers of the model the mask is for.</summary>
    public int LayerCount => _kept.Length;

    /// <summary>The kept layers in ascending order.</summary>
    public ReadOnlySpan<int> KeptLayers => _keptLayers;

    /// <summary>Number of kept layers.</summary>
    public int KeptCount => _keptLayers.Length;

    /// <summary>True when layer <paramref name="layer"/> runs.</summary>
    public bool IsKept(int layer) => _kept[layer];

    /// <summary>Throws unless the mask is for a model of <paramref name="layers"/> layers.</summary>
    public void EnsureFits(int layers)
    {
        if (layers != _kept.Length)
            throw new ArgumentException($"the mask has {_kept.Length} layers but the model has {layers}");
    }

    /// <summary>One character per layer: <c>1</c> kept, <c>0</c> skipped.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(_kept.Length);
        foreach (bool k in _kept) sb.Append(k ? '1' : '0');
        return sb.ToString();
    }

    /// <inheritdoc />
    public bool Equals(LayerMask? other) => ReferenceEquals(this, other) || (other is not null && _kept.AsSpan().SequenceEqual(other._kept));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as LayerMask);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (bool k in _kept) h.Add(k);
        return h.ToHashCode();
    }
}
