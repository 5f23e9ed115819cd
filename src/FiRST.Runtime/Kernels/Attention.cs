using System.Numerics.Tensors;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Causal grouped-query attention of one new position over the cached keys and values of one layer,
/// split by heads over a <see cref="WorkerPool"/> when the context is long enough to pay for it.
/// </summary>
public sealed unsafe class Attention : ParallelJob
{
    private readonly WorkerPool _pool;
    private readonly ModelConfig _c;
    private readonly float _scale;
    private float* _q, _keys, _values, _att, _out;
    private int _pos;

    /// <summary>Creates the kernel for one model shape.</summary>
    public Attention(WorkerPool pool, ModelConfig config)
    {
        _pool = pool;
        _c = config;
        _scale = MathF.Sqrt(config.HeadSize);
    }

    /// <summary>
    /// <paramref name="output"/><c>[dim]</c> = softmax(q k^T / sqrt(head_size)) v for positions <c>0..pos</c>.
    /// <paramref name="scores"/> is scratch of <c>[n_heads, max_seq_len]</c>.
    /// </summary>
    public void Run(Span<float> output, ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, Span<float> scores, int pos)
    {
        fixed (float* o = output)
        fixed (float* qp = q)
        fixed (float* k = keys)
        fixed (float* v = values)
        fixed (float* a = scores)
        {
            _out = o; _q = qp; _keys = k; _values = v; _att = a; _pos = pos;
            if ((long)_c.Dim * (pos + 1) < MatVec.ParallelThreshold) Execute(0, _c.NHeads);
            else _pool.Run(this, _c.NHeads);
        }
    }

    /// <inheritdoc />
    public override void Execute(int start, int end)
    {
        int hs = _c.HeadSize, kvDim = _c.KvDim, kvMul = _c.KvMul, n = _pos + 1;
        for (int h = start; h < end; h++)
        {
            var q = new ReadOnlySpan<float>(_q + h * hs, hs);
            var att = new Span<float>(_att + (long)h * _c.MaxSeqLen, n);
            int kvOffset = h / kvMul * hs;
            for (int t = 0; t < n; t++)
                att[t] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(_keys + (long)t * kvDim + kvOffset, hs)) / _scale;
            Ops.Softmax(att);
            var o = new Span<float>(_out + h * hs, hs);
            o.Clear();
            for (int t = 0; t < n; t++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(_values + (long)t * kvDim + kvOffset, hs), att[t], o, o);
        }
    }
}
