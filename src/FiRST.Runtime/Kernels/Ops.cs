using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// The element-wise building blocks of a Llama layer. Each follows llama2.c's <c>run.c</c> operation order
/// (so greedy outputs match it), vectorised through <see cref="TensorPrimitives"/> where that order allows.
/// </summary>
public static class Ops
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
        float sum = 0f;
        for (int i = 0; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        TensorPrimitives.Divide(x, sum, x);
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
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float v = gate[i];
            v *= 1f / (1f + MathF.Exp(-v));
            gate[i] = v * up[i];
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
}
