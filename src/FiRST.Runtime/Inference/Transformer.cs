using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Inference;

/// <summary>
/// The layer math of a Llama model, written once: embed a token, run one layer at a position, produce
/// logits. A decode path (the generic masked loop, a generated per-task loop, early exit) is a sequence of
/// these calls. Holds one session's scratch state; not thread-safe.
/// </summary>
public sealed class Transformer
{
    private readonly ModelConfig _c;
    private readonly ModelWeights _w;
    private readonly RunState _s;
    private readonly RopeTable _rope;
    private readonly MatVec _matVec;
    private readonly Attention _attention;

    internal Transformer(ModelConfig config, ModelWeights weights, RopeTable rope, WorkerPool pool)
    {
        _c = config;
        _w = weights;
        _rope = rope;
        _s = new RunState(config);
        _matVec = new MatVec(pool);
        _attention = new Attention(pool, config);
    }

    /// <summary>The residual stream after the last call, <c>[dim]</c>.</summary>
    public Span<float> Hidden => _s.X;

    /// <summary>Loads token <paramref name="token"/>'s embedding into the residual stream.</summary>
    public void Embed(int token)
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
        _matVec.Run(s.Q, s.Xb, lw.Wq);
        _matVec.Run(k, s.Xb, lw.Wk);
        _matVec.Run(v, s.Xb, lw.Wv);
        Ops.Rope(s.Q, _c.HeadSize, _rope.Cos(pos), _rope.Sin(pos));
        Ops.Rope(k, _c.HeadSize, _rope.Cos(pos), _rope.Sin(pos));
        _attention.Run(s.Xb, s.Q, keys, values, s.Att, pos);
        _matVec.Run(s.Xb2, s.Xb, lw.Wo);
        System.Numerics.Tensors.TensorPrimitives.Add(s.X, s.Xb2, s.X);

        // Feed-forward block: x += W2 · (silu(W1·n(x)) * W3·n(x)).
        Ops.RmsNorm(s.Xb, s.X, lw.RmsFfn.Row(0), _c.NormEps);
        _matVec.Run(s.Hb, s.Xb, lw.W1);
        _matVec.Run(s.Hb2, s.Xb, lw.W3);
        Ops.SwiGlu(s.Hb, s.Hb2);
        _matVec.Run(s.Xb, s.Hb, lw.W2);
        System.Numerics.Tensors.TensorPrimitives.Add(s.X, s.Xb, s.X);
    }

    /// <summary>Final RMSNorm and classifier; returns the logits <c>[vocab]</c>, valid until the next call.</summary>
    public ReadOnlySpan<float> Logits()
    {
        Ops.RmsNorm(_s.X, _s.X, _w.RmsFinal.Row(0), _c.NormEps);
        _matVec.Run(_s.Logits, _s.X, _w.Classifier);
        return _s.Logits;
    }
}
