using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Dot products of int8 matrix rows (one float scale per group) with a float32 vector: each group's int8
/// values are widened to float, multiplied with the vector and the group sum scaled once. Four rows at a
/// time share the vector loads; the interleaved layout (<see cref="Q8Layout"/>) makes those four rows one
/// sequential stream. Reading a quarter of the bytes of float32 weights is where the speed comes from; the
/// arithmetic stays float32. The kernel for float32 activations: where the activations are quantized to int8
/// (the default, <see cref="SessionOptions.QuantizeActivations"/>), <see cref="Int8DotKernels"/> runs instead,
/// and this one for row-major matrices (groups not whole chunks of 16) and processors without AVX2. Each kernel is written once over the vector
/// width (<see cref="IFloatVector{TVec}"/>): 512-bit with AVX-512, else 256-bit with AVX2, else 128-bit (SSE, NEON), else scalar.
/// </summary>
internal static unsafe class Q8Kernels
{
    /// <summary>Bytes ahead of the current position that the int8 rows are prefetched.</summary>
    private const int PrefetchDistance = 1024;

    /// <summary>
    /// <c>o[r] = sum_g s[r, g] * dot(q[r, g], x[g])</c> for rows <c>[start, end)</c> of <paramref name="w"/>
    /// (either int8 layout). <paramref name="start"/> must be a multiple of four; <paramref name="end"/> may be any row.
    /// </summary>
    public static void Rows(Matrix w, float* x, float* o, int start, int end)
    {
        if (!w.IsInterleaved) Rows(w.Quantized, w.Scales, w.Cols, w.GroupSize, x, o, start, end);
        else if (V512.CanWidenInt8) Interleaved<V512, Vector512<float>>(w, x, o, start, end);
        else if (V256.CanWidenInt8) Interleaved<V256, Vector256<float>>(w, x, o, start, end);
        else Interleaved<V128, Vector128<float>>(w, x, o, start, end);
    }

    /// <summary>
    /// <see cref="Rows(Matrix, float*, float*, int, int)"/> for an interleaved matrix at one vector width
    /// (tests call both); scalar where the processor cannot widen int8 at that width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Interleaved<TV, TVec>(Matrix w, float* x, float* o, int start, int end) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int cols = w.Cols, gs = w.GroupSize, groups = cols / gs;
        int fullBlocks = w.Rows / Q8Layout.BlockRows * Q8Layout.BlockRows;
        int r = start;
        for (; r + Q8Layout.BlockRows <= Math.Min(end, fullBlocks); r += Q8Layout.BlockRows)
        {
            sbyte* block = w.Quantized + (long)r * cols;
            float* scales = w.Scales + (long)r * groups;
            if (TV.CanWidenInt8) Block<TV, TVec>(block, scales, cols, gs, x, o + r);
            else BlockScalar(block, scales, cols, gs, x, o + r);
        }
        if (r < end && r < fullBlocks)
        {
            // The range ends inside a full block (the worker pool never splits one, but the kernel does not
            // rely on that): its rows are interleaved, so compute the whole block and keep the rows asked for.
            float* four = stackalloc float[Q8Layout.BlockRows];
            sbyte* block = w.Quantized + (long)r * cols;
            float* scales = w.Scales + (long)r * groups;
            if (TV.CanWidenInt8) Block<TV, TVec>(block, scales, cols, gs, x, four);
            else BlockScalar(block, scales, cols, gs, x, four);
            for (int k = 0; r < end; r++, k++) o[r] = four[k];
            return;
        }
        // Rows past the last full block are stored row-major.
        for (; r < end; r++) o[r] = One(w.Quantized + (long)r * cols, w.Scales + (long)r * groups, cols, gs, x);
    }

    /// <summary>Four interleaved rows: each 64-byte line holds 16 columns of all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block<TV, TVec>(sbyte* p, float* s, int cols, int gs, float* x, float* o) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int groups = cols / gs;
        TVec a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0, i = 0; g < groups; g++, s += 4)
        {
            TVec t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = i + gs; i < end; i += Q8Layout.ChunkCols, p += 64)
            {
                if (Sse.IsSupported) Sse.Prefetch0(p + PrefetchDistance); // x64 only; Arm's hardware prefetcher is left alone
                // A line's 16 columns of a row are one 512-bit vector or two 256-bit ones: the loop runs once
                // or twice, and the JIT unrolls it (its bound is a constant in each instantiation).
                for (int k = 0; k < Q8Layout.ChunkCols; k += TV.Count)
                {
                    var xv = TV.Load(x + i + k);
                    t0 = TV.FusedMultiplyAdd(TV.LoadWidened(p + k), xv, t0);
                    t1 = TV.FusedMultiplyAdd(TV.LoadWidened(p + 16 + k), xv, t1);
                    t2 = TV.FusedMultiplyAdd(TV.LoadWidened(p + 32 + k), xv, t2);
                    t3 = TV.FusedMultiplyAdd(TV.LoadWidened(p + 48 + k), xv, t3);
                }
            }
            a0 = TV.FusedMultiplyAdd(t0, TV.Create(s[0]), a0);
            a1 = TV.FusedMultiplyAdd(t1, TV.Create(s[1]), a1);
            a2 = TV.FusedMultiplyAdd(t2, TV.Create(s[2]), a2);
            a3 = TV.FusedMultiplyAdd(t3, TV.Create(s[3]), a3);
        }
        o[0] = TV.Sum(a0); o[1] = TV.Sum(a1); o[2] = TV.Sum(a2); o[3] = TV.Sum(a3);
    }

    private static void BlockScalar(sbyte* p, float* s, int cols, int gs, float* x, float* o)
    {
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int g = 0, i = 0; g < cols / gs; g++, s += 4)
        {
            float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
            for (int end = i + gs; i < end; i += 16, p += 64)
                for (int j = 0; j < 16; j++)
                {
                    float xj = x[i + j];
                    t0 += p[j] * xj; t1 += p[16 + j] * xj; t2 += p[32 + j] * xj; t3 += p[48 + j] * xj;
                }
            a0 += t0 * s[0]; a1 += t1 * s[1]; a2 += t2 * s[2]; a3 += t3 * s[3];
        }
        o[0] = a0; o[1] = a1; o[2] = a2; o[3] = a3;
    }

    /// <summary>Row-major rows <c>[start, end)</c>.</summary>
    public static void Rows(sbyte* q, float* scales, int cols, int groupSize, float* x, float* o, int start, int end)
    {
        if (V512.CanWidenInt8 && groupSize % V512.Count == 0) RowMajor<V512, Vector512<float>>(q, scales, cols, groupSize, x, o, start, end);
        else if (V256.CanWidenInt8) RowMajor<V256, Vector256<float>>(q, scales, cols, groupSize, x, o, start, end);
        else RowMajor<V128, Vector128<float>>(q, scales, cols, groupSize, x, o, start, end);
    }

    /// <summary>
    /// Row-major rows at one vector width (tests call both); scalar where the processor cannot widen int8 at
    /// that width or the groups are not whole vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RowMajor<TV, TVec>(sbyte* q, float* scales, int cols, int groupSize, float* x, float* o, int start, int end)
        where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int groups = cols / groupSize;
        int r = start;
        if (TV.CanWidenInt8 && groupSize % TV.Count == 0)
            for (; r + 4 <= end; r += 4) Four<TV, TVec>(q + (long)r * cols, scales + (long)r * groups, cols, groupSize, x, o + r);
        for (; r < end; r++) o[r] = One(q + (long)r * cols, scales + (long)r * groups, cols, groupSize, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four<TV, TVec>(sbyte* q, float* s, int cols, int gs, float* x, float* o) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int groups = cols / gs;
        sbyte* q0 = q, q1 = q + cols, q2 = q + 2 * cols, q3 = q + 3 * cols;
        float* s0 = s, s1 = s + groups, s2 = s + 2 * groups, s3 = s + 3 * groups;
        TVec a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0, i = 0; g < groups; g++)
        {
            if (TV.Count == 16 && (i & 63) == 0)
            {
                // Int8 rows advance a cache line only every 64 values, too slowly for the hardware prefetcher
                // to keep enough lines in flight: ask for the lines a few iterations ahead. Only at 512 bits,
                // where it was measured to help; the 256-bit kernel never had it and ran about 2% slower
                // with it (tests/FiRST.Benchmarks -- kernels, row-major q8 768 x 2048).
                Sse.Prefetch0(q0 + i + PrefetchDistance);
                Sse.Prefetch0(q1 + i + PrefetchDistance);
                Sse.Prefetch0(q2 + i + PrefetchDistance);
                Sse.Prefetch0(q3 + i + PrefetchDistance);
            }
            TVec t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = i + gs; i < end; i += TV.Count)
            {
                var xv = TV.Load(x + i);
                t0 = TV.FusedMultiplyAdd(TV.LoadWidened(q0 + i), xv, t0);
                t1 = TV.FusedMultiplyAdd(TV.LoadWidened(q1 + i), xv, t1);
                t2 = TV.FusedMultiplyAdd(TV.LoadWidened(q2 + i), xv, t2);
                t3 = TV.FusedMultiplyAdd(TV.LoadWidened(q3 + i), xv, t3);
            }
            a0 = TV.FusedMultiplyAdd(t0, TV.Create(s0[g]), a0);
            a1 = TV.FusedMultiplyAdd(t1, TV.Create(s1[g]), a1);
            a2 = TV.FusedMultiplyAdd(t2, TV.Create(s2[g]), a2);
            a3 = TV.FusedMultiplyAdd(t3, TV.Create(s3[g]), a3);
        }
        o[0] = TV.Sum(a0); o[1] = TV.Sum(a1); o[2] = TV.Sum(a2); o[3] = TV.Sum(a3);
    }

    private static float One(sbyte* q, float* s, int cols, int gs, float* x)
    {
        float total = 0;
        for (int g = 0, i = 0; i < cols; g++)
        {
            float sum = 0;
            for (int end = i + gs; i < end; i++) sum += q[i] * x[i];
            total += sum * s[g];
        }
        return total;
    }
}
