using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// The element-wise building blocks of a Llama layer. Each follows llama2.c's <c>run.c</c> operation order
/// (so greedy outputs match it), vectorised through <see cref="TensorPrimitives"/> where that order allows.
/// </summary>
internal static class Ops
{
    /// <summary><c>o = w * x / sqrt(mean(x^2) + eps)</c>. <paramref name="o"/> may alias <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RmsNorm(Span<float> o, ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps)
    {
        float ss = TensorPrimitives.SumOfSquares(x);
        ss /= x.Length;
        ss += eps;
        ss = 1f / MathF.Sqrt(ss);
        TensorPrimitives.Multiply(x, ss, o);
        TensorPrimitives.Multiply(o, w, o);
    }

    /// <summary>In-place softmax with the maximum subtracted first for stability.</summary>
    public static void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        float sum = ExpShifted(x, max);
        TensorPrimitives.Divide(x, sum, x);
    }

    /// <summary>
    /// <c>x[i] = exp(x[i] - shift)</c> for <c>x[i] &lt;= shift</c>; returns the sum. Eight lanes at a time with a
    /// Cephes-style polynomial (within 2 ulp of the correctly rounded value): attention runs one softmax per
    /// head per layer per token, and a scalar exp per position was a quarter of small models' decode time.
    /// </summary>
    public static unsafe float ExpShifted(Span<float> x, float shift)
    {
        int i = 0;
        float sum = 0;
        fixed (float* p = x)
        {
            if (Vector256.IsHardwareAccelerated && x.Length >= 8)
            {
                var acc = Vector256<float>.Zero;
                var s = Vector256.Create(shift);
                for (; i + 8 <= x.Length; i += 8)
                {
                    var e = Exp256(Vector256.Load(p + i) - s);
                    e.Store(p + i);
                    acc += e;
                }
                sum = Vector256.Sum(acc);
            }
            for (; i < x.Length; i++)
            {
                float e = MathF.Exp(p[i] - shift);
                p[i] = e;
                sum += e;
            }
        }
        return sum;
    }

    /// <summary>exp, eight lanes; arguments are clamped to [-87, 88] (results from about 1e-38 to 1.6e38).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Exp256(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87f)), Vector256.Create(88f));
        // x = n ln2 + r with |r| <= ln2/2. Adding 1.5 * 2^23 rounds x/ln2 to an integer held in the low
        // mantissa bits, which also gives n as an int without a conversion.
        const float Magic = 12582912f;
        var t = Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), Vector256.Create(Magic));
        var n = t - Vector256.Create(Magic);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var y = Vector256.Create(1.9875691500E-4f);
        y = Vector256.FusedMultiplyAdd(y, r, Vector256.Create(1.3981999507E-3f));
        y = Vector256.FusedMultiplyAdd(y, r, Vector256.Create(8.3334519073E-3f));
        y = Vector256.FusedMultiplyAdd(y, r, Vector256.Create(4.1665795894E-2f));
        y = Vector256.FusedMultiplyAdd(y, r, Vector256.Create(1.6666665459E-1f));
        y = Vector256.FusedMultiplyAdd(y, r, Vector256.Create(5.0000001201E-1f));
        y = Vector256.FusedMultiplyAdd(y, r * r, r + Vector256<float>.One);
        // Scale by 2^n through the exponent bits.
        var pow2 = (t.AsInt32() - Vector256.Create(0x4B400000 - 127)) << 23;
        return y * pow2.AsSingle();
    }

    /// <summary>
    /// Rotary embedding of adjacent pairs (2i, 2i+1) in every head of <paramref name="v"/>, with the
    /// position's precomputed cosines and sines (<c>[head_size / 2]</c> each).
    /// </summary>
    public static void Rope(Span<float> v, int headSize, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = headSize / 2;
        for (int h = 0; h < v.Length; h += headSize)
        {
            var head = v.Slice(h, headSize);
            for (int i = 0; i < half; i++)
            {
                float c = cos[i], s = sin[i];
                float v0 = head[2 * i], v1 = head[2 * i + 1];
                head[2 * i] = v0 * c - v1 * s;
                head[2 * i + 1] = v0 * s + v1 * c;
            }
        }
    }

    /// <summary>SwiGLU: <c>gate = silu(gate) * up</c>, in place in <paramref name="gate"/>.</summary>
    public static unsafe void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        int i = 0;
        fixed (float* g = gate)
        fixed (float* u = up)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= gate.Length; i += 8)
                {
                    var v = Vector256.Load(g + i);
                    (v / (Vector256<float>.One + Exp256(-v)) * Vector256.Load(u + i)).Store(g + i);
                }
            }
            for (; i < gate.Length; i++)
            {
                float v = g[i];
                v *= 1f / (1f + MathF.Exp(-v));
                g[i] = v * u[i];
            }
        }
    }

    /// <summary>Index of the largest value; the lowest index wins ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        float max = x[0];
        for (int i = 1; i < x.Length; i++)
            if (x[i] > max) { max = x[i]; best = i; }
        return best;
    }

    /// <summary>
    /// The largest softmax probability of <paramref name="logits"/>, <c>1 / sum(exp(l - max))</c>: what an early
    /// exit compares with its threshold, without writing a distribution.
    /// </summary>
    public static float TopProbability(ReadOnlySpan<float> logits)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += MathF.Exp(logits[i] - max);
        return (float)(1.0 / sum);
    }
}
