namespace FiRST.Runtime.Inference;

/// <summary>
/// Keys and values of every processed position, one pair of <c>[max_seq_len, kv_dim]</c> buffers per layer.
/// A layer that will never run holds no storage at all, which is where skipping layers saves memory.
/// </summary>
public sealed class KvCache
{
    private readonly ArraySegment<float>?[] _keys;
    private readonly ArraySegment<float>?[] _values;

    /// <summary>Allocates storage for the layers <paramref name="allocate"/> accepts.</summary>
    internal KvCache(ModelConfig config, Func<int, bool>? allocate = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        KvDim = config.KvDim;
        MaxSeqLen = config.MaxSeqLen;
        _keys = new ArraySegment<float>?[config.NLayers];
        _values = new ArraySegment<float>?[config.NLayers];
        long perLayer = (long)config.MaxSeqLen * config.KvDim;
        if (perLayer > Array.MaxLength)
            throw new FiRSTException($"a KV cache of {config.MaxSeqLen} x {config.KvDim} floats per layer is larger than one array can hold");
        for (int l = 0; l < config.NLayers; l++)
            if (allocate == null || allocate(l)) Allocate(l);
    }

    /// <summary>
    /// Gives layer <paramref name="layer"/> storage if it has none: routed sessions learn which layers run
    /// only during prefill, so they allocate layer by layer as the routers keep them.
    /// </summary>
    internal void Allocate(int layer)
    {
        if (_keys[layer] is not null) return;
        // Pinned and cache-line aligned: kernels take pointers into it and read it with vector loads.
        _keys[layer] = AlignedBuffer.Floats((long)MaxSeqLen * KvDim);
        _values[layer] = AlignedBuffer.Floats((long)MaxSeqLen * KvDim);
    }

    /// <summary>Drops layer <paramref name="layer"/>'s storage (a re-routed session no longer runs it).</summary>
    internal void Release(int layer)
    {
        _keys[layer] = null;
        _values[layer] = null;
    }

    /// <summary>Width of one position's key (and value).</summary>
    internal int KvDim { get; }

    /// <summary>Positions the cache can hold.</summary>
    internal int MaxSeqLen { get; }

    /// <summary>Number of layers the model has (allocated or not).</summary>
    internal int LayerCount => _keys.Length;

    /// <summary>True when layer <paramref name="layer"/> has storage.</summary>
    internal bool HasLayer(int layer) => _keys[layer] is not null;

    /// <summary>Bytes of key and value storage actually allocated.</summary>
    internal long AllocatedBytes
    {
        get
        {
            long total = 0;
            for (int l = 0; l < _keys.Length; l++)
                if (_keys[l] is { } k) total += 2L * k.Count * sizeof(float);
            return total;
        }
    }

    /// <summary>Keys of a layer, <c>[max_seq_len * kv_dim]</c>.</summary>
    internal Span<float> Keys(int layer) => _keys[layer] is { } k ? k : throw NotAllocated(layer);

    /// <summary>Values of a layer, <c>[max_seq_len * kv_dim]</c>.</summary>
    internal Span<float> Values(int layer) => _values[layer] is { } v ? v : throw NotAllocated(layer);

    private static FiRSTException NotAllocated(int layer) =>
        new($"layer {layer} has no KV storage in this session: its mask skips it");
}
