using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;
using FiRST.Runtime.Paths;

namespace FiRST.Runtime.Inference;

/// <summary>
/// Advances a session by one token on a compiled path: the kept layers, final norm and classifier in one
/// parallel region (<see cref="WorkerPool.RunTeam"/>). One per session and path.
/// </summary>
internal abstract class CompiledDecoder : ParallelJob
{
    /// <summary>The path this decoder runs.</summary>
    public abstract IDecodePath Path { get; }

    /// <summary>
    /// Runs the residual stream (the embedded token, in the session's state) through the path's layers at
    /// <paramref name="pos"/>, filling <paramref name="cache"/> for it, and returns the logits.
    /// </summary>
    public abstract ReadOnlySpan<float> Step(KvCache cache, int pos);
}

/// <summary>
/// The compiled decoder for one model shape, <typeparamref name="TShape"/>: every size below is a constant
/// when the JIT or the AOT compiler builds this class for the generated shape struct. What it does that the
/// generic loop (<see cref="Transformer.Layer"/>, one pool fork/join per matrix product) cannot:
/// <list type="bullet">
/// <item>The threads stay inside the token: they meet at a <see cref="SpinBarrier"/> four times per layer
/// instead of forking and joining three times per layer plus once for the classifier.</item>
/// <item>Each thread owns the same rows of every matrix for the session's life (its key/value heads with their
/// query heads, a block of the residual rows, a block of the feed-forward rows, a block of the vocabulary),
/// so its share of the kept weights stays in its own core's cache where it fits; the pool's shared chunk
/// counter hands rows to whichever thread is free.</item>
/// <item>Attention runs in parallel over the owned heads at every context length, RoPE and SwiGLU on owned
/// rows only, and the residual adds are fused into the output projections.</item>
/// </list>
/// Each thread normalises the residual stream itself (a few hundred floats) rather than waiting for one to
/// do it. Results equal the generic loop's up to float summation order.
/// </summary>
internal sealed unsafe class CompiledDecoder<TShape> : CompiledDecoder where TShape : struct, IModelShape
{
    private static int Dim => TShape.Dim;
    private static int Hidden => TShape.HiddenDim;
    private static int HeadSize => TShape.Dim / TShape.NHeads;
    private static int KvDim => TShape.NKvHeads * HeadSize;
    private static int KvMul => TShape.NHeads / TShape.NKvHeads;
    private static int MaxSeqLen => TShape.MaxSeqLen;

    /// <summary>Rows of the residual, feed-forward and vocabulary blocks start on 16-row boundaries (whole
    /// cache lines of the outputs, whole int8 blocks of four rows).</summary>
    private const int RowAlign = 16;

    private readonly IDecodePath _path;
    private readonly LayerWeights[] _layers;
    private readonly int[] _layerIndex;
    private readonly nint[] _keys, _values;
    private readonly Matrix _rmsFinal, _classifier;
    // Per thread: the kept layers and the classifier with this thread's rows packed (see Pack).
    private readonly LayerWeights[][] _threadLayers;
    private readonly Matrix[] _threadClassifier;
    private readonly List<ArraySegment<float>> _packed = [];
    private readonly RopeTable _rope;
    private readonly WorkerPool _pool;
    private readonly SpinBarrier _barrier;
    private readonly float _eps;
    private readonly ArraySegment<float> _logits;
    private readonly float* _x, _q, _attOut, _hb, _hb2, _proj, _att, _normed, _logitsPtr;
    private readonly int[] _kvHeads, _dimRows, _hiddenRows, _vocabRows;
    private readonly int _normedStride;
    // Held so the pinned array behind _normed lives as long as the decoder (a pointer alone does not keep it).
    private readonly ArraySegment<float> _normedBuffer;
    // Per thread, where the weights are int8 or 4-bit that the integer kernels multiply: the thread's inputs quantized to int8.
    private readonly Int8Activations?[] _activations;
    private int _pos;
    private ExceptionDispatchInfo? _failure;

    private CompiledDecoder(IDecodePath path, int[] kept, Transformer transformer, WorkerPool pool)
    {
        _path = path;
        var w = transformer.Weights;
        _layerIndex = kept;
        _layers = new LayerWeights[kept.Length];
        for (int i = 0; i < kept.Length; i++)
            _layers[i] = w.Layers[kept[i]] ?? throw new FiRSTException($"layer {kept[i]} was not loaded: this model instance was loaded without it");
        _keys = new nint[kept.Length];
        _values = new nint[kept.Length];
        _rmsFinal = w.RmsFinal;
        _classifier = w.Classifier;
        _rope = transformer.Rope;
        _eps = transformer.Config.NormEps;
        _pool = pool;
        int threads = pool.Threads;
        _barrier = new SpinBarrier(threads);

        var s = transformer.State;
        _x = AlignedBuffer.Address(s.X);
        _q = AlignedBuffer.Address(s.Q);
        _attOut = AlignedBuffer.Address(s.Xb);
        _proj = AlignedBuffer.Address(s.Xb2);
        _hb = AlignedBuffer.Address(s.Hb);
        _hb2 = AlignedBuffer.Address(s.Hb2);
        _att = AlignedBuffer.Address(s.Att);
        _logits = s.Logits;
        _logitsPtr = AlignedBuffer.Address(s.Logits);
        // One normalised copy of the residual per thread, each on its own cache lines.
        int stride = (Dim + RowAlign - 1) / RowAlign * RowAlign;
        _normedBuffer = AlignedBuffer.Floats((long)stride * threads);
        _normed = AlignedBuffer.Address(_normedBuffer);
        _normedStride = stride;

        _kvHeads = Split(TShape.NKvHeads, threads, 1);
        _dimRows = Split(Dim, threads, RowAlign);
        _hiddenRows = Split(Hidden, threads, RowAlign);
        _vocabRows = Split(TShape.VocabSize, threads, RowAlign);

        _activations = new Int8Activations?[threads];
        if (transformer.QuantizesActivations && w.IsQuantized)
            for (int t = 0; t < threads; t++) _activations[t] = new Int8Activations(Math.Max(Dim, Hidden));

        _threadLayers = new LayerWeights[threads][];
        _threadClassifier = new Matrix[threads];
        for (int t = 0; t < threads; t++) Pack(t);
    }

    /// <summary>
    /// Copies thread <paramref name="t"/>'s rows of every float32 matrix it reads (kept layers in run order,
    /// then the classifier) into one 64-byte-aligned buffer, so its share of the task's weights is one
    /// sequential stream that stays in its core's cache where it fits, with no other thread's rows between.
    /// Each packed matrix is a view whose row <c>r</c> sits where the kernels look for it, so the token code
    /// is the same packed or not. Int8 matrices, and float32 ones large enough to stream from memory anyway,
    /// are read in place (a copy would double their memory for nothing), and so is everything when one thread
    /// runs the team.
    /// </summary>
    private void Pack(int t)
    {
        int hs = HeadSize;
        var ranges = new (Func<LayerWeights, Matrix> Get, int Start, int End)[]
        {
            (l => l.Wq, _kvHeads[t] * KvMul * hs, _kvHeads[t + 1] * KvMul * hs),
            (l => l.Wk, _kvHeads[t] * hs, _kvHeads[t + 1] * hs),
            (l => l.Wv, _kvHeads[t] * hs, _kvHeads[t + 1] * hs),
            (l => l.Wo, _dimRows[t], _dimRows[t + 1]),
            (l => l.W1, _hiddenRows[t], _hiddenRows[t + 1]),
            (l => l.W3, _hiddenRows[t], _hiddenRows[t + 1]),
            (l => l.W2, _dimRows[t], _dimRows[t + 1]),
        };
        // A thread alone owns every row: its matrices are contiguous already, and a packed copy only doubles the
        // weights the cache must hold (measured on the demo's copy path at 1 thread: 1.35x the full model's speed
        // with the copy, 1.62x without).
        bool alone = _pool.Threads == 1;
        // Float32 only: int8 rows are read in interleaved blocks, and bfloat16 was not measured packed.
        bool Packs(Matrix m) => !alone && m.Data != null && m.Bytes < MatVec.StreamingBytes;
        long floats = 0;
        foreach (var l in _layers)
            foreach (var (get, start, end) in ranges)
                if (Packs(get(l))) floats += (long)(end - start) * get(l).Cols;
        int v0 = _vocabRows[t], v1 = _vocabRows[t + 1];
        if (Packs(_classifier)) floats += (long)(v1 - v0) * Dim;

        var buffer = AlignedBuffer.Floats(Math.Max(1, floats));
        _packed.Add(buffer);
        float* next = AlignedBuffer.Address(buffer);
        Matrix Copy(Matrix m, int start, int end)
        {
            if (!Packs(m)) return m;
            long count = (long)(end - start) * m.Cols;
            new ReadOnlySpan<float>(m.Data + (long)start * m.Cols, (int)count).CopyTo(new Span<float>(next, (int)count));
            // A view whose row r (for r in [start, end)) is at data + r * cols, where the kernels read it.
            var view = new Matrix(next - (long)start * m.Cols, m.Rows, m.Cols);
            next += count;
            return view;
        }
        _threadLayers[t] = new LayerWeights[_layers.Length];
        for (int i = 0; i < _layers.Length; i++)
        {
            var l = _layers[i];
            _threadLayers[t][i] = new LayerWeights
            {
                RmsAtt = l.RmsAtt,
                Wq = Copy(l.Wq, ranges[0].Start, ranges[0].End),
                Wk = Copy(l.Wk, ranges[1].Start, ranges[1].End),
                Wv = Copy(l.Wv, ranges[2].Start, ranges[2].End),
                Wo = Copy(l.Wo, ranges[3].Start, ranges[3].End),
                RmsFfn = l.RmsFfn,
                W1 = Copy(l.W1, ranges[4].Start, ranges[4].End),
                W3 = Copy(l.W3, ranges[5].Start, ranges[5].End),
                W2 = Copy(l.W2, ranges[6].Start, ranges[6].End),
            };
        }
        _threadClassifier[t] = Copy(_classifier, v0, v1);
    }

    /// <inheritdoc />
    public override IDecodePath Path => _path;

    /// <summary>
    /// The decoder of <paramref name="path"/> for a session, or null where it cannot run: int8 weights whose
    /// head size is not a multiple of four (int8 rows are read in blocks of four, and threads split them by
    /// heads).
    /// </summary>
    /// <exception cref="FiRSTException">The model's shape is not the one the path was generated for.</exception>
    public static CompiledDecoder? TryCreate(IDecodePath path, int[] kept, Transformer transformer, WorkerPool pool)
    {
        var c = transformer.Config;
        if (c.Dim != TShape.Dim || c.HiddenDim != TShape.HiddenDim || c.NLayers != TShape.NLayers || c.NHeads != TShape.NHeads
            || c.NKvHeads != TShape.NKvHeads || c.VocabSize != TShape.VocabSize || c.MaxSeqLen != TShape.MaxSeqLen)
            throw new FiRSTException(
                $"{path.GetType().Name} was generated for a model of dim {TShape.Dim}, hidden_dim {TShape.HiddenDim}, {TShape.NLayers} layers, " +
                $"{TShape.NHeads}/{TShape.NKvHeads} heads, vocab {TShape.VocabSize}, max_seq_len {TShape.MaxSeqLen}; this model has dim {c.Dim}, " +
                $"hidden_dim {c.HiddenDim}, {c.NLayers} layers, {c.NHeads}/{c.NKvHeads} heads, vocab {c.VocabSize}, max_seq_len {c.MaxSeqLen}");
        if (transformer.Weights.IsQuantized && HeadSize % 4 != 0) return null;
        return new CompiledDecoder<TShape>(path, kept, transformer, pool);
    }

    /// <inheritdoc />
    public override ReadOnlySpan<float> Step(KvCache cache, int pos)
    {
        for (int i = 0; i < _layerIndex.Length; i++)
        {
            // The cache's buffers live on the pinned heap: their addresses hold while the session does.
            _keys[i] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(cache.Keys(_layerIndex[i])));
            _values[i] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(cache.Values(_layerIndex[i])));
        }
        _pos = pos;
        _barrier.Reset();
        _pool.RunTeam(this);
        if (_failure is { } failure)
        {
            _failure = null;
            failure.Throw();
        }
        return _logits;
    }

    /// <summary>One thread's share of the token; <paramref name="start"/> is the thread's index.</summary>
    public override void Execute(int start, int end)
    {
        try
        {
            if (Vector512.IsHardwareAccelerated) Token<V512, Vector512<float>>(start);
            else if (Vector256.IsHardwareAccelerated) Token<V256, Vector256<float>>(start);
            else Token<V128, Vector128<float>>(start);
        }
        catch (SpinBarrier.AbortedException)
        {
            // Another thread failed; its exception is the one reported.
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
            _barrier.Abort();
        }
    }

    private void Token<TV, TVec>(int t) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int pos = _pos, hs = HeadSize;
        float* x = _x, xn = _normed + t * _normedStride;
        int kv0 = _kvHeads[t], kv1 = _kvHeads[t + 1];
        int h0 = kv0 * KvMul, h1 = kv1 * KvMul;
        int d0 = _dimRows[t], d1 = _dimRows[t + 1];
        int f0 = _hiddenRows[t], f1 = _hiddenRows[t + 1];
        float scale = 1f / MathF.Sqrt(hs);
        var cos = _rope.Cos(pos);
        var sin = _rope.Sin(pos);

        var layers = _threadLayers[t];
        for (int i = 0; i < layers.Length; i++)
        {
            var lw = layers[i];
            float* keys = (float*)_keys[i], values = (float*)_values[i];
            float* k = keys + (long)pos * KvDim, v = values + (long)pos * KvDim;

            // Attention over the heads this thread owns: its key/value heads and the query heads that read them.
            RmsNorm(xn, x, lw.RmsAtt.Data);
            if (kv1 > kv0)
            {
                var xq = Quantize(t, xn, Dim, lw.Wq);
                Rows<TV, TVec>(lw.Wq, xn, _q, h0 * hs, h1 * hs, Dim, xq);
                Rows<TV, TVec>(lw.Wk, xn, k, kv0 * hs, kv1 * hs, Dim, xq);
                Rows<TV, TVec>(lw.Wv, xn, v, kv0 * hs, kv1 * hs, Dim, xq);
                Ops.Rope(new Span<float>(_q + h0 * hs, (h1 - h0) * hs), hs, cos, sin);
                Ops.Rope(new Span<float>(k + kv0 * hs, (kv1 - kv0) * hs), hs, cos, sin);
                for (int h = h0; h < h1; h++)
                {
                    int kvOffset = h / KvMul * hs;
                    Attention.Head(_q + h * hs, keys + kvOffset, values + kvOffset, KvDim, _att + (long)h * MaxSeqLen, _attOut + h * hs, pos + 1, hs, scale);
                }
            }
            _barrier.Wait();

            // x += Wo · attention, on this thread's residual rows.
            if (d1 > d0) Rows<TV, TVec>(lw.Wo, _attOut, _proj, d0, d1, Dim, Quantize(t, _attOut, Dim, lw.Wo));
            AddRows(x, _proj, d0, d1);
            _barrier.Wait();

            // x += W2 · (silu(W1 · n(x)) * W3 · n(x)): this thread's feed-forward rows, then its residual rows.
            RmsNorm(xn, x, lw.RmsFfn.Data);
            if (f1 > f0)
            {
                var xq = Quantize(t, xn, Dim, lw.W1);
                Rows<TV, TVec>(lw.W1, xn, _hb, f0, f1, Dim, xq);
                Rows<TV, TVec>(lw.W3, xn, _hb2, f0, f1, Dim, xq);
                Ops.SwiGlu(new Span<float>(_hb + f0, f1 - f0), new ReadOnlySpan<float>(_hb2 + f0, f1 - f0));
            }
            _barrier.Wait();
            if (d1 > d0) Rows<TV, TVec>(lw.W2, _hb, _proj, d0, d1, Hidden, Quantize(t, _hb, Hidden, lw.W2));
            AddRows(x, _proj, d0, d1);
            _barrier.Wait();
        }

        // Final norm and this thread's block of the vocabulary. The pool's join ends the token.
        RmsNorm(xn, x, _rmsFinal.Data);
        Rows<TV, TVec>(_threadClassifier[t], xn, _logitsPtr, _vocabRows[t], _vocabRows[t + 1], Dim, Quantize(t, xn, Dim, _threadClassifier[t]));
    }

    /// <summary>
    /// Thread <paramref name="t"/>'s copy of <paramref name="x"/> in int8, in <paramref name="w"/>'s groups, where
    /// <paramref name="w"/> (and the matrices that share its input) multiplies int8 activations; else nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private QuantizedVector Quantize(int t, float* x, int length, Matrix w) =>
        _activations[t] is { } a && Int8Activations.AreUsedBy(w) ? a.Quantize(x, length, w.GroupSize) : default;

    /// <summary>Rows <c>[start, end)</c> of <c>w · x</c>, where <paramref name="cols"/> is a constant of the shape.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Rows<TV, TVec>(Matrix w, float* x, float* o, int start, int end, int cols, in QuantizedVector xq) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        if (start >= end) return;
        if (w.IsBFloat16) BFloat16Kernels.Rows<TV, TVec>(w.BFloat16, cols, x, o, start, end);
        else if (w.IsQuantized || w.Bytes >= MatVec.StreamingBytes) MatVec.Rows(w, x, o, start, end, xq);
        else DotKernels.Rows<TV, TVec>(w.Data, cols, x, o, start, end);
    }

    /// <summary><c>o = g * x / sqrt(mean(x^2) + eps)</c> over the constant <see cref="Dim"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RmsNorm(float* o, float* x, float* g) =>
        Ops.RmsNorm(new Span<float>(o, Dim), new ReadOnlySpan<float>(x, Dim), new ReadOnlySpan<float>(g, Dim), _eps);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRows(float* x, float* y, int start, int end)
    {
        if (start < end)
            System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(x + start, end - start), new ReadOnlySpan<float>(y + start, end - start), new Span<float>(x + start, end - start));
    }

    /// <summary>
    /// Bounds of <paramref name="parts"/> contiguous blocks of <c>[0, n)</c>, each starting on a multiple of
    /// <paramref name="align"/>, as even as that allows; a block may be empty.
    /// </summary>
    internal static int[] Split(int n, int parts, int align)
    {
        var bounds = new int[parts + 1];
        for (int i = 1; i < parts; i++)
            bounds[i] = Math.Min(n, (int)((long)n * i / parts + align / 2) / align * align);
        bounds[parts] = n;
        for (int i = 1; i <= parts; i++) bounds[i] = Math.Max(bounds[i], bounds[i - 1]);
        return bounds;
    }
}
