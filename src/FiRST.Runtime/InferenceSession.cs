using FiRST.Runtime.Decoding;
using FiRST.Runtime.Inference;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Sampling;

namespace FiRST.Runtime;

/// <summary>
/// One sequence being processed by a <see cref="LlamaModel"/>: its position, KV cache and scratch buffers.
/// A session is used by one thread at a time; create one session per concurrent conversation.
/// </summary>
/// <remarks>
/// A step started while another thread's step runs fails with <see cref="InvalidOperationException"/>.
/// <see cref="Dispose"/> may be called from any thread: while a step runs it waits for that step to end, then
/// releases the session; every later step fails with <see cref="ObjectDisposedException"/>. Disposing twice
/// does nothing.
/// </remarks>
public sealed class InferenceSession : IDisposable
{
    private readonly LlamaModel _model;
    private readonly WorkerPool _pool;
    private readonly Dispatcher _dispatcher;
    private IDecodePath _path;
    private KvCache? _cache;
    private CompiledDecoder? _decoder;
    private IDecodePath? _decoderPath;
    private readonly EarlyExitOptions? _earlyExit;
    private readonly SpeculationOptions? _speculationPlan;
    private readonly bool _speculateAsCalibrated;
    private SelfSpeculation? _speculation;
    private IDecodePath? _speculationPath;
    private long _decodedTokens, _decodedLayers, _exits;
    // 1 while a step runs, so a second thread's step is refused and Dispose waits for the step to end.
    private int _busy;
    private int _disposed;

    internal InferenceSession(LlamaModel model, SessionOptions options)
    {
        var config = model.Config;
        if (options.Routers is { } routers)
        {
            if (options.Mask is not null) throw new ArgumentException("give a session either a mask or routers, not both", nameof(options));
            routers.EnsureFits(config, model.Path);
            if (!(options.RouterThreshold is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(options), options.RouterThreshold, "RouterThreshold must be within [0, 1]");
        }
        if (options.Path is { } pinned && (options.Mask is not null || options.Routers is not null))
            throw new ArgumentException("a session pinned to a path takes its mask from the path: give Path, Mask or Routers, one of them", nameof(options));
        var pinnedPath = options.Path;
        if (options.Task is { } task)
        {
            if (options.Path is not null || options.Mask is not null || options.Routers is not null)
                throw new ArgumentException("a session pinned to a task takes its mask from the task's path: give Task, Path, Mask or Routers, one of them", nameof(options));
            if (options.Paths is null)
                throw new ArgumentException($"the session is pinned to task '{task}' but has no Paths to find it in (a generated model's Paths)", nameof(options));
            try { pinnedPath = options.Paths.ForTask(task); }
            catch (KeyNotFoundException e) { throw new ArgumentException(e.Message, nameof(options)); }
        }
        options.EarlyExit?.EnsureFits(config.NLayers);
        if (!Enum.IsDefined(options.Policy)) throw new ArgumentOutOfRangeException(nameof(options), options.Policy, "not a PathPolicy");
        // A routed session starts from every layer the model loaded (a model loaded with a generated manifest,
        // LoadOptions(), holds only the layers its tasks use), and the routers never keep one it did not load.
        // A session without routers or a mask runs the full model, so it needs every layer (a clear error below).
        var mask = pinnedPath?.Mask ?? options.Mask ?? (options.Routers is not null ? model.LoadedLayers : LayerMask.All(config.NLayers));
        mask.EnsureFits(config.NLayers);
        for (int l = 0; l < config.NLayers; l++)
            if (mask.IsKept(l) && !model.IsLayerLoaded(l))
                throw new ArgumentException($"the mask keeps layer {l}, which this model instance did not load");
        if (options.Threads < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "Threads must be at least 1");

        // A fixed mask must leave layers to verify with; a routed one is checked once routed (too few kept
        // layers then decode without speculation).
        if (options.Speculation is { } plan && options.Routers is null) plan.EnsureFits(mask.KeptCount);

        _model = model;
        Mask = mask;
        _earlyExit = options.EarlyExit;
        _speculationPlan = options.Speculation;
        _speculateAsCalibrated = options.SpeculateAsCalibrated;
        _dispatcher = new Dispatcher(options.Routers, options.RouterThreshold, options.Paths, pinnedPath, options.Policy);
        _pool = new WorkerPool(options.Threads);
        // A routed session allocates KV layer by layer as the routers keep them.
        _cache = new KvCache(config, _dispatcher.Routes ? _ => false : mask.IsKept);
        (_path, PathReason) = _dispatcher.Choose(mask, model.LoadedLayers, routed: false);
        Transformer = new Transformer(config, model.Weights, model.Rope, _pool, model.WeightsPath, model.AdapterPath) { QuantizesActivations = options.QuantizeActivations };
        // A pinned path made for another model's shape fails here, not at the first token.
        if (pinnedPath is not null) DecoderFor(_path);
        if (Speculation is { } speculation) SpeculationFor(speculation);
    }

    /// <summary>The model this session runs.</summary>
    public LlamaModel Model => _model;

    /// <summary>The model's shape.</summary>
    public ModelConfig Config => _model.Config;

    /// <summary>
    /// The layers this session runs. A routed session reports every layer until its first prefill has
    /// routed, then the mask the routers chose.
    /// </summary>
    public LayerMask Mask { get; private set; }

    /// <summary>What the routers decided for the current prompt; null before routing or without routers.</summary>
    public RoutingDecision? Routing { get; private set; }

    /// <summary>The path <see cref="Forward(int)"/> decodes with: a compiled path for the mask, or the generic loop.</summary>
    public IDecodePath DecodePath => _path;

    /// <summary>Why the session decodes on <see cref="DecodePath"/>: pinned, an exact compiled path, a superset, or the dynamic path.</summary>
    public PathReason PathReason { get; private set; }

    /// <summary>
    /// The self-speculation plan generation runs use on the current path: the session's
    /// <see cref="SessionOptions.Speculation"/>, else (with <see cref="SessionOptions.SpeculateAsCalibrated"/>)
    /// the path's calibrated plan; null when none, or when the routed mask keeps too few layers for it.
    /// </summary>
    public SpeculationOptions? Speculation
    {
        get
        {
            var plan = _speculationPlan ?? (_speculateAsCalibrated ? (_path as ICompiledPath)?.Speculation : null);
            return plan is not null && plan.DraftLayers < Mask.KeptCount && !RoutingPending ? plan : null;
        }
    }

    /// <summary>The early-exit thresholds of the dynamic path, when the session was given them.</summary>
    public EarlyExitOptions? EarlyExit => _earlyExit;

    /// <summary>True when tokens decode with early exit: the session has thresholds and runs the dynamic path.</summary>
    internal bool ExitsEarly => _earlyExit is not null && _path is MaskedPath;

    /// <summary>Number of positions processed so far; the next token goes to this position.</summary>
    public int Position { get; private set; }

    /// <summary>Positions left before the context is full.</summary>
    public int Remaining => Config.MaxSeqLen - Position;

    /// <summary>Threads each kernel is split over.</summary>
    public int Threads => _pool.Threads;

    /// <summary>The KV cache (storage only for kept layers).</summary>
    internal KvCache Cache => _cache ?? throw Disposed();

    private static ObjectDisposedException Disposed() => new(nameof(InferenceSession), "the session has been disposed");

    /// <summary>Marks a step as running; fails if the session is disposed or another thread's step runs.</summary>
    private void Begin()
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            throw new InvalidOperationException("another thread is running a step on this session; a session is used by one thread at a time");
        // After the exchange above (a full fence): either Dispose sees the step running and waits, or this sees Dispose.
        if (Volatile.Read(ref _disposed) != 0)
        {
            Volatile.Write(ref _busy, 0);
            throw Disposed();
        }
    }

    private void End() => Volatile.Write(ref _busy, 0);

    /// <summary>True once <see cref="Dispose"/> has begun.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Called after each chunk of a batched prefill, with the position reached; a test seam, so a test can
    /// cancel exactly between two chunks.
    /// </summary>
    internal Action<int>? AfterPrefillChunk { get; set; }

    /// <summary>Bytes of KV storage this session holds.</summary>
    public long KvBytes => _cache?.AllocatedBytes ?? 0;

    /// <summary>Tokens <see cref="Forward(int)"/> has decoded one at a time since creation.</summary>
    internal long DecodedTokens => _decodedTokens;

    /// <summary>Layers those tokens ran through, summed (early exit makes this less than tokens × kept layers).</summary>
    internal long DecodedLayers => _decodedLayers;

    /// <summary>Tokens that left the model at an early exit.</summary>
    internal long EarlyExits => _exits;

    /// <summary>The self-speculation state of the current path, or null before any round.</summary>
    internal SelfSpeculation? SpeculationState => _speculation;

    /// <summary>True when the last decoded token ran on a compiled path's decoder (tests check that it did).</summary>
    internal bool DecodesCompiled => _decoder is not null && ReferenceEquals(_decoderPath, _path);

    /// <summary>Layer math and scratch state.</summary>
    internal Transformer Transformer { get; }

    /// <summary>A routed session whose prompt has not been routed yet: its next tokens are a prompt to route.</summary>
    private bool RoutingPending => _dispatcher.Routes && Routing is null;

    /// <summary>
    /// Processes <paramref name="token"/> at <see cref="Position"/> through the kept layers and returns the
    /// next-token logits (valid until the next call). Allocates nothing.
    /// </summary>
    /// <exception cref="ContextFullException">The session already holds <c>max_seq_len</c> positions.</exception>
    /// <exception cref="ModelLoadException">The logits are NaN or infinite: the model's weights are finite but overflow float32.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="token"/> is negative or not below the vocabulary size; the session is unchanged.</exception>
    public ReadOnlySpan<float> Forward(int token)
    {
        Begin();
        try
        {
            return RoutingPending ? RoutedPrefill(new[] { token }, CancellationToken.None) : Step(token, _path);
        }
        finally
        {
            End();
        }
    }

    /// <summary>
    /// Like <see cref="Forward(int)"/>, with the layers run by <paramref name="path"/> (a generated task path,
    /// or any <see cref="Paths.IDecodePath"/>), whose mask must be this session's.
    /// </summary>
    public ReadOnlySpan<float> Forward(int token, IDecodePath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Begin();
        try
        {
            if (!path.Mask.Equals(Mask))
                throw new ArgumentException($"the path runs layers {path.Mask} but the session was created for {Mask}", nameof(path));
            return Step(token, path);
        }
        finally
        {
            End();
        }
    }

    /// <summary>
    /// Processes <paramref name="tokens"/> at positions <see cref="Position"/> onwards and returns the logits
    /// after the last one (valid until the next call). A routed session routes the first prompt after
    /// creation or <see cref="Reset"/> here.
    /// </summary>
    /// <exception cref="ContextFullException">The tokens do not fit in the remaining context.</exception>
    /// <exception cref="ModelLoadException">The logits are NaN or infinite: the model's weights are finite but overflow float32.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token is negative or not below the vocabulary size; checked before any work, so the session is unchanged.</exception>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> was cancelled (checked between layers). The positions of the chunks
    /// already processed stay in the session (see <see cref="Position"/>); <see cref="Reset"/> starts over.
    /// </exception>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, CancellationToken cancellationToken = default)
    {
        if (tokens.IsEmpty) throw new ArgumentException("nothing to prefill", nameof(tokens));
        int vocab = Config.VocabSize;
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"token {i} of the prompt is outside the vocabulary of {vocab}");
        Begin();
        try
        {
            if (RoutingPending) return RoutedPrefill(tokens, cancellationToken);
            if (tokens.Length == 1) return Step(tokens[0], _path);
            return Batch(tokens, cancellationToken);
        }
        finally
        {
            End();
        }
    }

    /// <summary>One token through <paramref name="path"/>: embed, the path's layers, logits.</summary>
    private ReadOnlySpan<float> Step(int token, IDecodePath path)
    {
        var cache = Cache;
        if (Position >= Config.MaxSeqLen) throw new ContextFullException(Config.MaxSeqLen);
        _model.Enter();
        try
        {
            var t = Transformer;
            t.Embed(token);
            ReadOnlySpan<float> logits;
            int depth = path.Mask.KeptCount;
            if (DecoderFor(path) is { } decoder)
            {
                logits = decoder.Step(cache, Position);
                t.EnsureFinite(logits);
            }
            else if (_earlyExit is not null && path is MaskedPath)
            {
                logits = ExitStep(t, cache, path.Mask, out depth);
            }
            else
            {
                path.RunLayers(t, cache, Position);
                logits = t.Logits();
            }
            Position++;
            _decodedTokens++;
            _decodedLayers += depth;
            return logits;
        }
        finally
        {
            _model.Exit();
        }
    }

    /// <summary>
    /// The dynamic path's token: the kept layers in order; after a layer with a threshold, the exit's logits
    /// (shared final norm and classifier), and if their top probability reaches the threshold the token leaves
    /// there. The layers it skips get its key and value from the exit hidden state (KV fill), so later tokens
    /// attend to it as usual. <paramref name="depth"/> is the number of layers it ran.
    /// </summary>
    private ReadOnlySpan<float> ExitStep(Transformer t, KvCache cache, LayerMask mask, out int depth)
    {
        var kept = mask.KeptLayers;
        var thresholds = _earlyExit!;
        for (int i = 0; i < kept.Length; i++)
        {
            t.Layer(kept[i], Position, cache);
            if (i == kept.Length - 1 || thresholds.At(kept[i]) is not { } threshold) continue;
            var exit = t.Logits();
            if (Ops.TopProbability(exit) < threshold) continue;
            for (int j = i + 1; j < kept.Length; j++) t.FillKv(kept[j], Position, cache);
            depth = i + 1;
            _exits++;
            return exit;
        }
        depth = kept.Length;
        return t.Logits();
    }

    /// <summary>
    /// One self-speculation round from <paramref name="token"/> (see <see cref="SelfSpeculation"/>): writes
    /// the next tokens to <paramref name="output"/> (at least <see cref="SpeculationOptions.Lookahead"/> + 1
    /// long) and returns how many (at most <paramref name="limit"/>); all but the last now sit in the session,
    /// the last is not yet fed (as after <see cref="Forward(int)"/> and sampling). Drafting stops at a token of
    /// <paramref name="stops"/>. With one position left or a limit of one token, a plain step.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session has no speculation plan for its path (<see cref="Speculation"/>).</exception>
    internal int Speculate(int token, Sampler sampler, Span<int> output, int limit = int.MaxValue, IReadOnlySet<int>? stops = null)
    {
        if ((uint)token >= (uint)Config.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary of {Config.VocabSize}");
        Begin();
        try
        {
            var plan = Speculation ?? throw new InvalidOperationException("the session has no speculation plan for its path");
            if (Remaining < 2 || limit < 2)
            {
                output[0] = sampler.Sample(Step(token, _path));
                return 1;
            }
            var cache = Cache;
            var speculation = SpeculationFor(plan);
            _model.Enter();
            try
            {
                int n = speculation.Round(Transformer, cache, Position, token, sampler, output, Config.MaxSeqLen, limit, stops);
                Position += n;
                return n;
            }
            finally
            {
                _model.Exit();
            }
        }
        finally
        {
            End();
        }
    }

    /// <summary>
    /// The self-speculation state of <paramref name="plan"/> on the current path, made when the path or plan
    /// changes: at creation for a pinned path and after routing for a routed one, so that packing the draft
    /// half's weights for its compiled decoder is not paid inside the first decoded token.
    /// </summary>
    private SelfSpeculation SpeculationFor(SpeculationOptions plan)
    {
        if (_speculation is not null && ReferenceEquals(_speculationPath, _path) && ReferenceEquals(_speculation.Plan, plan)) return _speculation;
        // The generated draft half runs on its compiled decoder when it is the plan's draft.
        var draft = (_path as ICompiledPath)?.Draft;
        var compiled = draft is not null && ((IDecodePath)draft).Mask.KeptCount == plan.DraftLayers ? draft.CreateDecoder(Transformer, _pool) : null;
        _speculation = new SelfSpeculation(plan, Mask.KeptLayers, compiled, Config);
        _speculationPath = _path;
        return _speculation;
    }

    /// <summary>
    /// The compiled decoder of <paramref name="path"/> (made on first use and kept until the session decodes on
    /// another compiled path), or null for the generic loop and where a compiled path cannot run on these weights.
    /// </summary>
    private CompiledDecoder? DecoderFor(IDecodePath path)
    {
        if (path is not ICompiledPath compiled) return null;
        if (ReferenceEquals(path, _decoderPath)) return _decoder;
        _decoder = compiled.CreateDecoder(Transformer, _pool);
        _decoderPath = path;
        return _decoder;
    }

    /// <summary>Batches of tokens through all kept layers, so each weight is read once per batch.</summary>
    private ReadOnlySpan<float> Batch(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        if (tokens.Length > Remaining) throw new ContextFullException(Config.MaxSeqLen);
        var cache = Cache;
        _model.Enter();
        try
        {
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
                AfterPrefillChunk?.Invoke(Position);
            }
            t.SelectFromBatch(last);
            return t.Logits();
        }
        finally
        {
            _model.Exit();
        }
    }

    /// <summary>The dispatcher routes the prompt; the session takes the mask and the path it chose.</summary>
    private ReadOnlySpan<float> RoutedPrefill(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        if (Position != 0) throw new InvalidOperationException("a routed session routes only a prompt that starts at position 0");
        if (tokens.Length > Remaining) throw new ContextFullException(Config.MaxSeqLen);
        var cache = Cache;
        _model.Enter();
        try
        {
            var decision = _dispatcher.Route(Transformer, cache, Config, tokens, _model.LoadedLayers, cancellationToken);
            Mask = decision.Mask;
            Routing = decision;
            (_path, PathReason) = _dispatcher.Choose(decision.Mask, _model.LoadedLayers, routed: true);
            Position = tokens.Length;
            var logits = Transformer.Logits();
            if (PathReason == PathReason.Superset)
            {
                // The superset path keeps layers the routers skipped: they need the prompt's KV too. The prompt
                // goes through the path's layers again as a batched prefill (the layers below the first added
                // one recompute what they hold already).
                Mask = _path.Mask;
                foreach (int layer in Mask.KeptLayers) cache.Allocate(layer);
                Position = 0;
                logits = Batch(tokens, cancellationToken);
            }
            // After the mask is final: the draft and verify halves split the layers the path runs.
            if (Speculation is { } speculation) SpeculationFor(speculation);
            return logits;
        }
        finally
        {
            _model.Exit();
        }
    }

    /// <summary>
    /// Forgets every processed position; the KV storage is kept for reuse. A routed session routes its next
    /// prompt afresh (and drops the storage of layers that prompt skips).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The session has been disposed.</exception>
    public void Reset()
    {
        if (Volatile.Read(ref _disposed) != 0) throw Disposed();
        Position = 0;
        if (!_dispatcher.Routes || Routing is null) return;
        Routing = null;
        Mask = _model.LoadedLayers;
        (_path, PathReason) = _dispatcher.Choose(Mask, _model.LoadedLayers, routed: false);
    }

    /// <summary>
    /// Stops the session's worker threads and drops its KV cache. Called while another thread runs a step, it
    /// waits for that step to end. A second call does nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref _busy) != 0) spin.SpinOnce();
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
