using FiRST.Runtime.Inference;
using FiRST.Runtime.Kernels;

namespace FiRST.Runtime;

/// <summary>
/// One sequence being processed by a <see cref="LlamaModel"/>: its position, KV cache and scratch buffers.
/// A session is used by one thread at a time; create one session per concurrent conversation.
/// </summary>
public sealed class InferenceSession : IDisposable
{
    private readonly LlamaModel _model;
    private readonly WorkerPool _pool;
    private readonly Paths.IDecodePath _genericPath;
    private KvCache? _cache;

    internal InferenceSession(LlamaModel model, SessionOptions options)
    {
        var config = model.Config;
        var mask = options.Mask ?? LayerMask.All(config.NLayers);
        mask.EnsureFits(config.NLayers);
        for (int l = 0; l < config.NLayers; l++)
            if (mask.IsKept(l) && !model.IsLayerLoaded(l))
                throw new ArgumentException($"the mask keeps layer {l}, which this model instance did not load");
        if (options.Threads < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "Threads must be at least 1");

        _model = model;
        Mask = mask;
        _pool = new WorkerPool(options.Threads);
        _cache = new KvCache(config, mask.IsKept);
        _genericPath = new Paths.MaskedPath(mask);
        Transformer = new Transformer(config, model.Weights, model.Rope, _pool);
    }

    /// <summary>The model this session runs.</summary>
    public LlamaModel Model => _model;

    /// <summary>The model's shape.</summary>
    public ModelConfig Config => _model.Config;

    /// <summary>The layers this session runs.</summary>
    public LayerMask Mask { get; }

    /// <summary>Number of positions processed so far; the next token goes to this position.</summary>
    public int Position { get; private set; }

    /// <summary>Positions left before the context is full.</summary>
    public int Remaining => Config.MaxSeqLen - Position;

    /// <summary>Threads each kernel is split over.</summary>
    public int Threads => _pool.Threads;

    /// <summary>The KV cache (storage only for kept layers).</summary>
    public KvCache Cache => _cache ?? throw new ObjectDisposedException(nameof(InferenceSession));

    /// <summary>Bytes of KV storage this session holds.</summary>
    public long KvBytes => _cache?.AllocatedBytes ?? 0;

    /// <summary>Layer math and scratch state, for decode paths that compose layers themselves.</summary>
    public Transformer Transformer { get; }

    /// <summary>
    /// Processes <paramref name="token"/> at <see cref="Position"/> through the kept layers and returns the
    /// next-token logits (valid until the next call). Allocates nothing.
    /// </summary>
    /// <exception cref="ContextFullException">The session already holds <c>max_seq_len</c> positions.</exception>
    public ReadOnlySpan<float> Forward(int token) => Forward(token, _genericPath);

    /// <summary>
    /// Like <see cref="Forward(int)"/>, with the layers run by <paramref name="path"/> (a generated task path,
    /// or any <see cref="Paths.IDecodePath"/>), whose mask must be this session's.
    /// </summary>
    public ReadOnlySpan<float> Forward(int token, Paths.IDecodePath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!path.Mask.Equals(Mask))
            throw new ArgumentException($"the path runs layers {path.Mask} but the session was created for {Mask}", nameof(path));
        var cache = Cache;
        if (Position >= Config.MaxSeqLen) throw new ContextFullException(Config.MaxSeqLen);
        _model.Enter();
        try
        {
            var t = Transformer;
            t.Embed(token);
            path.RunLayers(t, cache, Position);
            var logits = t.Logits();
            Position++;
            return logits;
        }
        finally
        {
            _model.Exit();
        }
    }

    /// <summary>
    /// Processes <paramref name="tokens"/> at positions <see cref="Position"/> onwards and returns the logits
    /// after the last one (valid until the next call).
    /// </summary>
    /// <exception cref="ContextFullException">The tokens do not fit in the remaining context.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked between layers).</exception>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, CancellationToken cancellationToken = default)
    {
        if (tokens.IsEmpty) throw new ArgumentException("nothing to prefill", nameof(tokens));
        if (tokens.Length > Remaining) throw new ContextFullException(Config.MaxSeqLen);
        if (tokens.Length == 1) return Forward(tokens[0]);
        var cache = Cache;
        _model.Enter();
        try
        {
            // Batches of tokens through all kept layers, so each weight is read once per batch.
            var t = Transformer;
            int last = 0;
            for (int start = 0; start < tokens.Length; start += Transformer.PrefillChunk)
            {
                var chunk = tokens.Slice(start, Math.Min(Transformer.PrefillChunk, tokens.Length - start));
                t.EmbedBatch(chunk);
                foreach (int layer in Mask.KeptLayers)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    t.LayerBatch(layer, Position, chunk.Length, cache);
                }
                Position += chunk.Length;
                last = chunk.Length - 1;
            }
            t.SelectFromBatch(last);
            return t.Logits();
        }
        finally
        {
            _model.Exit();
        }
    }

    /// <summary>Forgets every processed position; the KV storage is kept for reuse.</summary>
    public void Reset() => Position = 0;

    /// <summary>Stops the session's worker threads and drops its KV cache.</summary>
    public void Dispose()
    {
        if (_cache is null) return;
        _cache = null;
        Transformer.Dispose();
        _pool.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// A session that was never disposed still lets its worker threads end and its scratch memory go: the
    /// threads keep only the pool alive, not the session.
    /// </summary>
    ~InferenceSession()
    {
        // A constructor that threw leaves these unset.
        Transformer?.Dispose();
        _pool?.Release();
    }
}

/// <summary>A token was fed to a session whose context window is already full.</summary>
public sealed class ContextFullException : FiRSTException
{
    /// <summary>Creates the exception for a context of <paramref name="maxSeqLen"/> positions.</summary>
    public ContextFullException(int maxSeqLen)
        : base($"the context window of {maxSeqLen} positions is full") => MaxSeqLen = maxSeqLen;

    /// <summary>The model's context length.</summary>
    public int MaxSeqLen { get; }
}
