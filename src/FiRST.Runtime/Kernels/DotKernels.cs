using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Dot products of matrix rows with one vector, four rows at a time so each load of the vector feeds four
/// fused multiply-adds. Decode is bound by reading the weights; this keeps the loads of the vector and the
/// per-call overhead out of the way of that stream. Uses 512-bit vectors where the processor runs them
/// natively, otherwise 256-bit ones: one generic kernel over <see cref="IFloatVector{TVec}"/>, the width
/// chosen once per call.
/// </summary>
internal static unsafe class DotKernels
{
    /// <summary><c>o[r] = dot(w[r, :], x)</c> for rows <c>[start, end)</c> of a row-major <c>[*, cols]</c> matrix.</summary>
    public static void Rows(float* w, int cols, float* x, float* o, int start, int end)
    {
        if (Vector512.IsHardwareAccelerated) Rows<V512, Vector512<float>>(w, cols, x, o, start, end);
        else if (Vector256.IsHardwareAccelerated) Rows<V256, Vector256<float>>(w, cols, x, o, start, end);
        else Rows<V128, Vector128<float>>(w, cols, x, o, start, end);
    }

    /// <summary><see cref="Rows(float*, int, float*, float*, int, int)"/> at one vector width (tests call both).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Rows<TV, TVec>(float* w, int cols, float* x, float* o, int start, int end) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int r = start;
        for (; r + 4 <= end; r += 4) Four<TV, TVec>(w + (long)r * cols, cols, x, o + r);
        for (; r < end; r++) o[r] = One(w + (long)r * cols, cols, x);
    }

    /// <summary>
    /// <c>o[r] = dot(w[r, :], x)</c> one row at a time, for matrices far larger than the caches: a single
    /// sequential stream keeps the hardware prefetcher further ahead than four interleaved ones (measured on
    /// this machine: about a fifth more bandwidth from one thread).
    /// </summary>
    public static void RowsStreaming(float* w, int cols, float* x, float* o, int start, int end)
    {
        // Only measured to help with 512-bit vectors; 256-bit ones keep the four-row kernel.
        if (Vector512.IsHardwareAccelerated) RowsStreaming<V512, Vector512<float>>(w, cols, x, o, start, end);
        else Rows(w, cols, x, o, start, end);
    }

    /// <summary><see cref="RowsStreaming(float*, int, float*, float*, int, int)"/> at one vector width (tests call both).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RowsStreaming<TV, TVec>(float* w, int cols, float* x, float* o, int start, int end) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int n = TV.Count;
        for (int r = start; r < end; r++)
        {
            float* row = w + (long)r * cols;
            TVec a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i + 4 * n <= cols; i += 4 * n)
            {
                a0 = TV.FusedMultiplyAdd(TV.Load(row + i), TV.Load(x + i), a0);
                a1 = TV.FusedMultiplyAdd(TV.Load(row + i + n), TV.Load(x + i + n), a1);
                a2 = TV.FusedMultiplyAdd(TV.Load(row + i + 2 * n), TV.Load(x + i + 2 * n), a2);
                a3 = TV.FusedMultiplyAdd(TV.Load(row + i + 3 * n), TV.Load(x + i + 3 * n), a3);
            }
            for (; i + n <= cols; i += n) a0 = TV.FusedMultiplyAdd(TV.Load(row + i), TV.Load(x + i), a0);
            float sum = TV.Sum(TV.Add(TV.Add(a0, a1), TV.Add(a2, a3)));
            for (; i < cols; i++) sum += row[i] * x[i];
            o[r] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four<TV, TVec>(float* w, int cols, float* x, float* o) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        float* w0 = w, w1 = w + cols, w2 = w + 2 * cols, w3 = w + 3 * cols;
        TVec a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + TV.Count <= cols; i += TV.Count)
        {
            var xv = TV.Load(x + i);
            a0 = TV.FusedMultiplyAdd(TV.Load(w0 + i), xv, a0);
            a1 = TV.FusedMultiplyAdd(TV.Load(w1 + i), xv, a1);
            a2 = TV.FusedMultiplyAdd(TV.Load(w2 + i), xv, a2);
            a3 = TV.FusedMultiplyAdd(TV.Load(w3 + i), xv, a3);
        }
        float s0 = TV.Sum(a0), s1 = TV.Sum(a1), s2 = TV.Sum(a2), s3 = TV.Sum(a3);
        for (; i < cols; i++)
        {
            float xi = x[i];
            s0 += w0[i] * xi; s1 += w1[i] * xi; s2 += w2[i] * xi; s3 += w3[i] * xi;
        }
        o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float One(float* w, int cols, float* x) =>
        System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(w, cols), new ReadOnlySpan<float>(x, cols));
}
