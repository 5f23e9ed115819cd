namespace FiRST.Runtime.Inference;

/// <summary>
/// Keys and values of every processed position, one pair of <c>[max_seq_len, kv_dim]</c> buffers per layer.
/// A layer that will never run holds no storage at all, which is where skipping layers saves memory.
/// </summary>
public sealed class KvCache
{
    private readonly float[]?[] _keys;
    private readonly float[]?[] _values;

    /// <summary>Allocates storage for the layers <paramref name="allocate"/> accepts.</summary>
    public KvCache(ModelConfig config, Func<int, bool>? allocate = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        KvDim = config.KvDim;
        MaxSeqLen = config.MaxSeqLen;
        _keys = new float[]?[config.NLayers];
        _values = new float[]?[config.NLayers];
        long perLayer = (long)config.MaxSeqLen * config.KvDim;
        if (perLayer > Array.MaxLength)
            throw new FiRSTException($"a KV cache of {config.MaxSeqLen} x {config.KvDim} floats per layer is larger than one array can hold");
        for (int l = 0; l < config.NLayers; l++)
        {
            if (allocate != null && !allocate(l)) continue;
            // Pinned: kernels take pointers into the cache without fixing it on every token.
            _keys[l] = GC.AllocateUninitializedArray<float>((int)perLayer, pinned: true);
            _values[l] = GC.AllocateUninitializedArray<float>((int)perLayer, pinned: true);
        }
    }

    /// <summary>Width of one position's key (and value).</summary>
    public int KvDim { get; }

    /// <summary>Positions the cache can hold.</summary>
    public int MaxSeqLen { get; }

    /// <summary>Number of layers the model has (allocated or not).</summary>
    public int LayerCount => _keys.Length;

    /// <summary>True when layer <paramref name="layer"/> has storage.</summary>
    public bool HasLayer(int layer) => _keys[layer] is not null;

    /// <summary>Bytes of key and value storage actually allocated.</summary>
    public long AllocatedBytes
    {
        get
        {
            long total = 0;
            for (int l = 0; l < _keys.Length; l++)
                if (_keys[l] is { } k) total += 2L * k.Length * sizeof(float);
            return total;
        }
    }

    /// <summary>Keys of a layer, <c>[max_seq_len * kv_dim]</c>.</summary>
    public Span<float> Keys(int layer) => _keys[layer] ?? throw NotAllocated(layer);

    /// <summary>Values of a layer, <c>[max_seq_len * kv_dim]</c>.</summary>
    public Span<float> Values(int layer) => _values[layer] ?? throw NotAllocated(layer);

    private static FiRSTException NotAllocated(int layer) =>
        new($"layer {layer} has no KV storage in this session: its mask skips it");
}
