using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Causal grouped-query attention of one new position over the cached keys and values of one layer,
/// split by heads over a <see cref="WorkerPool"/> when the context is long enough to pay for it.
/// </summary>
internal sealed unsafe class Attention : ParallelJob
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
        float scale = 1f / _scale;
        for (int h = start; h < end; h++)
        {
            int kvOffset = h / kvMul * hs;
            Head(_q + h * hs, _keys + kvOffset, _values + kvOffset, kvDim, _att + (long)h * _c.MaxSeqLen, _out + h * hs, n, hs, scale);
        }
    }

    /// <summary>
    /// One head over positions <c>0..n-1</c>: <c>o = softmax(q k^T * scale) v</c>, where <paramref name="keys"/>
    /// and <paramref name="values"/> point at this head's first key and value, rows <paramref name="kvDim"/>
    /// apart. <paramref name="att"/> is scratch of <c>[n]</c>. The compiled decoder calls it with constant
    /// sizes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Head(float* q, float* keys, float* values, int kvDim, float* att, float* o, int n, int hs, float scale)
    {
        // Heads are short (8 to 128 floats): inline loops, not a library call per position, whose fixed
        // cost dominated small models.
        for (int t = 0; t < n; t++)
            att[t] = Dot(q, keys + (long)t * kvDim, hs) * scale;
        Ops.Softmax(new Span<float>(att, n));
        WeightedSum(o, values, kvDim, att, n, hs);
    }

    /// <summary>
    /// <c>o = sum_t a[t] * v[t]</c>, eight lanes at a time with the running sum kept in a register: adding into
    /// memory position by position chains every store to the next load.
    /// </summary>
    private static void WeightedSum(float* o, float* v, int stride, float* a, int n, int hs)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= hs; i += 8)
            {
                var acc = Vector256<float>.Zero;
                float* vi = v + i;
                for (int t = 0; t < n; t++) acc = Vector256.FusedMultiplyAdd(Vector256.Load(vi + (long)t * stride), Vector256.Create(a[t]), acc);
                acc.Store(o + i);
            }
        }
        for (; i < hs; i++)
        {
            float sum = 0;
            for (int t = 0; t < n; t++) sum += a[t] * v[(long)t * stride + i];
            o[i] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

}
