using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Inference;

/// <summary>
/// The layer math of a Llama model, written once: embed a token, run one layer at a position, produce
/// logits. A decode path (the generic masked loop, a generated per-task loop) is a sequence of
/// <see cref="Layer"/> calls, the one member paths see; embedding, batching and logits stay with the
/// session. Holds one session's scratch state; not thread-safe.
/// </summary>
public sealed class Transformer
{
    /// <summary>Most tokens one batched prefill step processes; longer prompts go in chunks.</summary>
    internal const int PrefillChunk = 64;

    private readonly ModelConfig _c;
    private readonly ModelWeights _w;
    private readonly RunState _s;
    private readonly RopeTable _rope;
    private readonly MatVec _matVec;
    private readonly Attention _attention;
    private readonly WorkerPool _pool;
    private MatMul? _matMul;
    private BatchState? _batch;
    private readonly string _modelPath;
    private readonly string? _adapterPath;

    internal Transformer(ModelConfig config, ModelWeights weights, RopeTable rope, WorkerPool pool, string modelPath, string? adapterPath = null)
    {
        _modelPath = modelPath;
        _adapterPath = adapterPath;
        _c = config;
        _w = weights;
        _rope = rope;
        _s = new RunState(config);
        _matVec = new MatVec(pool);
        _attention = new Attention(pool, config);
        _pool = pool;
    }

    /// <summary>The model's shape.</summary>
    internal ModelConfig Config => _c;

    /// <summary>
    /// Whether int8 weights multiply int8 activations (<see cref="SessionOptions.QuantizeActivations"/>); the
    /// compiled decoder reads it too.
    /// </summary>
    internal bool QuantizesActivations
    {
        get => _matVec.QuantizeActivations;
        init => _matVec.QuantizeActivations = value;
    }

    /// <summary>The weights the layers read.</summary>
    internal ModelWeights Weights => _w;

    /// <summary>The session's scratch buffers (the compiled decoder shares the residual stream and logits).</summary>
    internal RunState State => _s;

    /// <summary>Rotary angles per position.</summary>
    internal RopeTable Rope => _rope;

    /// <summary>The residual stream after the last call, <c>[dim]</c>.</summary>
    internal Span<float> Hidden => _s.X;

    /// <summary>Loads token <paramref name="token"/>'s embedding into the residual stream.</summary>
    internal void Embed(int token)
    {
        if ((uint)token >= (uint)_c.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary of {_c.VocabSize}");
        _w.TokenEmbedding.CopyRow(token, _s.X);
    }

    /// <summary>
    /// Runs layer <paramref name="layer"/> on the residual stream at position <paramref name="pos"/>, writing
    /// this position's key and value into <paramref name="cache"/>.
    /// </summary>
    public void Layer(int layer, int pos, KvCache cache)
    {
        var lw = _w.Layers[layer] ?? throw new FiRSTException($"layer {layer} was not loaded: this model instance was loaded without it");
        var s = _s;
        int kvDim = _c.KvDim;

        // Attention block: x += Wo · attention(rope(Wq·n(x)), cache ∪ rope(Wk·n(x)), cache ∪ Wv·n(x)).
        Ops.RmsNorm(s.Xb, s.X, lw.RmsAtt.Row(0), _c.NormEps);
        var keys = cache.Keys(layer);
        var values = cache.Values(layer);
        var k = keys.Slice(pos * kvDim, kvDim);
        var v = values.Slice(pos * kvDim, kvDim);
        _matVec.Run(s.Q, lw.Wq, k, lw.Wk, v, lw.Wv, s.Xb);
        Ops.Rope(s.Q, _c.HeadSize, _rope.Cos(pos), _rope.Sin(pos));
        Ops.Rope(k, _c.HeadSize, _rope.Cos(pos), _rope.Sin(pos));
        _attention.Run(s.Xb, s.Q, keys, values, s.Att, pos);
        _matVec.Run(s.Xb2, s.Xb, lw.Wo);
        System.Numerics.Tensors.TensorPrimitives.Add(s.X, s.Xb2, s.X);

        // Feed-forward block: x += W2 · (silu(W1·n(x)) * W3·n(x)).
        Ops.RmsNorm(s.Xb, s.X, lw.RmsFfn.Row(0), _c.NormEps);
        _matVec.Run(s.Hb, lw.W1, s.Hb2, lw.W3, s.Xb);
        Ops.SwiGlu(s.Hb, s.Hb2);
        _matVec.Run(s.Xb, s.Hb, lw.W2);
        System.Numerics.Tensors.TensorPrimitives.Add(s.X, s.Xb, s.X);
    }

    /// <summary>
    /// Runs layer <paramref name="layer"/> on a batch of <paramref name="count"/> tokens at positions
    /// <paramref name="pos"/> onwards (after <see cref="EmbedBatch"/>): one matrix-matrix product per weight
    /// instead of one matrix-vector product per token, then causal attention per token. Fills the KV cache
    /// for every position of the batch.
    /// </summary>
    internal void LayerBatch(int layer, int pos, int count, KvCache cache)
    {
        var lw = _w.Layers[layer] ?? throw new FiRSTException($"layer {layer} was not loaded: this model instance was loaded without it");
        var b = _batch ?? throw new InvalidOperationException("call EmbedBatch first");
        var mm = _matMul!;
        int dim = _c.Dim, kvDim = _c.KvDim, hid = _c.HiddenDim, hs = _c.HeadSize;
        var keys = cache.Keys(layer);
        var values = cache.Values(layer);

        for (int t = 0; t < count; t++)
            Ops.RmsNorm(b.Xb.AsSpan(t * dim, dim), b.X.AsSpan(t * dim, dim), lw.RmsAtt.Row(0), _c.NormEps);
        mm.Run(b.Q, dim, b.Xb, count, lw.Wq);
        // Keys and values go straight into the cache rows of their positions.
        mm.Run(keys[(pos * kvDim)..], kvDim, b.Xb, count, lw.Wk);
        mm.Run(values[(pos * kvDim)..], kvDim, b.Xb, count, lw.Wv);
        for (int t = 0; t < count; t++)
        {
            Ops.Rope(b.Q.AsSpan(t * dim, dim), hs, _rope.Cos(pos + t), _rope.Sin(pos + t));
            Ops.Rope(keys.Slice((pos + t) * kvDim, kvDim), hs, _rope.Cos(pos + t), _rope.Sin(pos + t));
        }
        for (int t = 0; t < count; t++)
            _attention.Run(b.Xb.AsSpan(t * dim, dim), b.Q.AsSpan(t * dim, dim), keys, values, _s.Att, pos + t);
        mm.Run(b.Xb2, dim, b.Xb, count, lw.Wo);
        System.Numerics.Tensors.TensorPrimitives.Add(b.X.AsSpan(0, count * dim), b.Xb2.AsSpan(0, count * dim), b.X.AsSpan(0, count * dim));

        for (int t = 0; t < count; t++)
            Ops.RmsNorm(b.Xb.AsSpan(t * dim, dim), b.X.AsSpan(t * dim, dim), lw.RmsFfn.Row(0), _c.NormEps);
        mm.Run(b.Hb, hid, b.Xb, count, lw.W1);
        mm.Run(b.Hb2, hid, b.Xb, count, lw.W3);
        Ops.SwiGlu(b.Hb.AsSpan(0, count * hid), b.Hb2.AsSpan(0, count * hid));
        mm.Run(b.Xb2, dim, b.Hb, count, lw.W2);
        System.Numerics.Tensors.TensorPrimitives.Add(b.X.AsSpan(0, count * dim), b.Xb2.AsSpan(0, count * dim), b.X.AsSpan(0, count * dim));
    }

    /// <summary>
    /// KV fill for a token that exited early: layer <paramref name="layer"/>'s key and value at
    /// <paramref name="pos"/> from the residual stream as it is (the exit hidden state), through the layer's
    /// attention norm and K and V projections only, so later tokens can attend to the exited one there.
    /// </summary>
    internal void FillKv(int layer, int pos, KvCache cache)
    {
        var lw = _w.Layers[layer] ?? throw new FiRSTException($"layer {layer} was not loaded: this model instance was loaded without it");
        int kvDim = _c.KvDim;
        Ops.RmsNorm(_s.Xb, _s.X, lw.RmsAtt.Row(0), _c.NormEps);
        var k = cache.Keys(layer).Slice(pos * kvDim, kvDim);
        _matVec.Run(k, lw.Wk, cache.Values(layer).Slice(pos * kvDim, kvDim), lw.Wv, _s.Xb);
        Ops.Rope(k, _c.HeadSize, _rope.Cos(pos), _rope.Sin(pos));
    }

    /// <summary>
    /// Makes the batch buffers ready for <paramref name="count"/> residual streams set by the caller (the
    /// verify pass of self-speculation loads the draft's hidden states) and returns them, <c>[count, dim]</c>.
    /// </summary>
    internal Span<float> BeginBatch(int count)
    {
        if (count > PrefillChunk) throw new ArgumentException($"at most {PrefillChunk} tokens per batch", nameof(count));
        // Sized for the longest batch so far, in steps of 16 tokens, rather than for a whole chunk: a short
        // prompt's prefill then allocates a short prompt's buffers (the embedded model and a 21-token prompt:
        // 160 KiB instead of 320; the one-task binary's peak resident memory did not move with it, measured).
        if (_batch is null || _batch.Capacity < count)
            _batch = new BatchState(_c, Math.Min(PrefillChunk, (count + 15) / 16 * 16));
        _matMul ??= new MatMul(_pool, Math.Max(_c.Dim, _c.HiddenDim));
        return _batch.X.AsSpan(0, count * _c.Dim);
    }

    /// <summary>Tokens the batch buffers hold now (0 before the first batch).</summary>
    internal int BatchCapacity => _batch?.Capacity ?? 0;

    /// <summary>Loads the embeddings of up to <see cref="PrefillChunk"/> tokens for <see cref="LayerBatch"/>.</summary>
    internal void EmbedBatch(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length > PrefillChunk) throw new ArgumentException($"at most {PrefillChunk} tokens per batch", nameof(tokens));
        var x = BeginBatch(tokens.Length);
        for (int t = 0; t < tokens.Length; t++)
        {
            if ((uint)tokens[t] >= (uint)_c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[t], $"token id outside the vocabulary of {_c.VocabSize}");
            _w.TokenEmbedding.CopyRow(tokens[t], x.Slice(t * _c.Dim, _c.Dim));
        }
    }

    /// <summary>
    /// The residual streams of the batch's first <paramref name="count"/> tokens, <c>[count, dim]</c>
    /// (after <see cref="EmbedBatch"/>): routers read them, and routed prefill moves chunks in and out.
    /// </summary>
    internal Span<float> BatchHidden(int count) =>
        (_batch ?? throw new InvalidOperationException("call EmbedBatch first")).X.AsSpan(0, count * _c.Dim);

    /// <summary>Makes <paramref name="hidden"/> <c>[dim]</c> the residual stream that <see cref="Logits"/> reads.</summary>
    internal void LoadHidden(ReadOnlySpan<float> hidden) => hidden.CopyTo(_s.X);

    /// <summary>Makes the batch's token <paramref name="index"/> the residual stream that <see cref="Logits"/> reads.</summary>
    internal void SelectFromBatch(int index) => _batch!.X.AsSpan(index * _c.Dim, _c.Dim).CopyTo(_s.X);

    /// <summary>
    /// Final RMSNorm and classifier of the residual stream; returns the logits <c>[vocab]</c>, valid until the
    /// next call. The residual stream is left as it was, so an early exit can look at a layer's logits and
    /// the token can still go deeper.
    /// </summary>
    /// <exception cref="ModelLoadException">The logits are NaN or infinite.</exception>
    internal ReadOnlySpan<float> Logits()
    {
        Ops.RmsNorm(_s.Xb, _s.X, _w.RmsFinal.Row(0), _c.NormEps);
        _matVec.Run(_s.Logits, _s.Xb, _w.Classifier);
        // Weights are checked finite at load, but finite weights can still overflow float32 in the forward
        // pass (a corrupt file with one weight near 1e38 is enough: fuzzing found such files). NaN logits would
        // reach the sampler and come out as garbage text, so the step fails here, naming the file. NaN or
        // infinity anywhere upstream reaches the logits; one pass over [vocab] is small next to the
        // classifier's [vocab, dim] product.
        EnsureFinite(_s.Logits);
        return _s.Logits;
    }

    /// <summary>
    /// Final RMSNorm and classifier of the batch's first <paramref name="count"/> residual streams, one
    /// matrix product (the classifier is read once for the batch): <paramref name="logits"/>
    /// <c>[count, vocab]</c>. The kernels sum in the same order as <see cref="Logits"/>'s.
    /// </summary>
    /// <exception cref="ModelLoadException">The logits are NaN or infinite.</exception>
    internal void BatchLogits(int count, Span<float> logits)
    {
        var b = _batch ?? throw new InvalidOperationException("call BeginBatch first");
        int dim = _c.Dim, vocab = _c.VocabSize;
        for (int t = 0; t < count; t++)
            Ops.RmsNorm(b.Xb.AsSpan(t * dim, dim), b.X.AsSpan(t * dim, dim), _w.RmsFinal.Row(0), _c.NormEps);
        _matMul!.Run(logits, vocab, b.Xb, count, _w.Classifier);
        for (int t = 0; t < count; t++)
            if (!float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(logits.Slice(t * vocab, vocab))))
            {
                logits.Slice(t * vocab, vocab).CopyTo(_s.Logits);
                ThrowNotFinite();
            }
    }

    /// <summary>Throws when <paramref name="logits"/> hold NaN or infinity (see <see cref="Logits"/>); the compiled decoder's logits pass here too.</summary>
    /// <exception cref="ModelLoadException">The logits are NaN or infinite.</exception>
    internal void EnsureFinite(ReadOnlySpan<float> logits)
    {
        if (!float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(logits))) ThrowNotFinite();
    }

    private void ThrowNotFinite()
    {
        ReadOnlySpan<float> logits = _s.Logits;
        int i = 0;
        while (i < logits.Length - 1 && float.IsFinite(logits[i])) i++;
        string adapter = _adapterPath switch { null => "", "" => " (with an adapter merged)", _ => $" (with the adapter {_adapterPath} merged)" };
        throw new ModelLoadException(_modelPath, "logits",
            $"a forward step gave logit {i} = {logits[i]}{adapter}: the weights are finite but overflow float32; the file is corrupt or not a usable model");
    }

    /// <summary>Frees the batch kernel's scratch memory.</summary>
    internal void Dispose() => _matMul?.Dispose();
}
