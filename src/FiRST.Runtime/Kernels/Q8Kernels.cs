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
/// arithmetic stays float32, so activations are not quantized.
/// </summary>
internal static unsafe class Q8Kernels
{
    /// <summary>Bytes ahead of the current position that the int8 rows are prefetched.</summary>
    private const int PrefetchDistance = 1024;

    /// <summary>
    /// <c>o[r] = sum_g s[r, g] * dot(q[r, g], x[g])</c> for rows <c>[start, end)</c> of <paramref name="w"/>
    /// (either int8 layout). <paramref name="start"/> must be a multiple of four.
    /// </summary>
    public static void Rows(Matrix w, float* x, float* o, int start, int end)
    {
        if (!w.IsInterleaved)
        {
            Rows(w.Quantized, w.Scales, w.Cols, w.GroupSize, x, o, start, end);
            return;
        }
        int cols = w.Cols, gs = w.GroupSize, groups = cols / gs;
        int fullBlocks = w.Rows / Q8Layout.BlockRows * Q8Layout.BlockRows;
        int r = start;
        for (; r + Q8Layout.BlockRows <= Math.Min(end, fullBlocks); r += Q8Layout.BlockRows)
        {
            sbyte* block = w.Quantized + (long)r * cols;
            float* scales = w.Scales + (long)r * groups;
            if (Avx512F.IsSupported) Block512(block, scales, cols, gs, x, o + r);
            else if (Avx2.IsSupported) Block256(block, scales, cols, gs, x, o + r);
            else BlockScalar(block, scales, cols, gs, x, o + r);
        }
        // Rows past the last full block are stored row-major.
        for (; r < end; r++) o[r] = One(w.Quantized + (long)r * cols, w.Scales + (long)r * groups, cols, gs, x);
    }

    /// <summary>Four interleaved rows: each 64-byte line holds 16 columns of all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block512(sbyte* p, float* s, int cols, int gs, float* x, float* o)
    {
        int groups = cols / gs;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0, i = 0; g < groups; g++, s += 4)
        {
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = i + gs; i < end; i += 16, p += 64)
            {
                Sse.Prefetch0(p + PrefetchDistance);
                var xv = Vector512.Load(x + i);
                t0 = Vector512.FusedMultiplyAdd(Widen512(p), xv, t0);
                t1 = Vector512.FusedMultiplyAdd(Widen512(p + 16), xv, t1);
                t2 = Vector512.FusedMultiplyAdd(Widen512(p + 32), xv, t2);
                t3 = Vector512.FusedMultiplyAdd(Widen512(p + 48), xv, t3);
            }
            a0 = Vector512.FusedMultiplyAdd(t0, Vector512.Create(s[0]), a0);
            a1 = Vector512.FusedMultiplyAdd(t1, Vector512.Create(s[1]), a1);
            a2 = Vector512.FusedMultiplyAdd(t2, Vector512.Create(s[2]), a2);
            a3 = Vector512.FusedMultiplyAdd(t3, Vector512.Create(s[3]), a3);
        }
        o[0] = Vector512.Sum(a0); o[1] = Vector512.Sum(a1); o[2] = Vector512.Sum(a2); o[3] = Vector512.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block256(sbyte* p, float* s, int cols, int gs, float* x, float* o)
    {
        int groups = cols / gs;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0, i = 0; g < groups; g++, s += 4)
        {
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = i + gs; i < end; i += 16, p += 64)
            {
                Sse.Prefetch0(p + PrefetchDistance);
                var xl = Vector256.Load(x + i);
                var xh = Vector256.Load(x + i + 8);
                t0 = Vector256.FusedMultiplyAdd(Widen256(p), xl, Vector256.FusedMultiplyAdd(Widen256(p + 8), xh, t0));
                t1 = Vector256.FusedMultiplyAdd(Widen256(p + 16), xl, Vector256.FusedMultiplyAdd(Widen256(p + 24), xh, t1));
                t2 = Vector256.FusedMultiplyAdd(Widen256(p + 32), xl, Vector256.FusedMultiplyAdd(Widen256(p + 40), xh, t2));
                t3 = Vector256.FusedMultiplyAdd(Widen256(p + 48), xl, Vector256.FusedMultiplyAdd(Widen256(p + 56), xh, t3));
            }
            a0 = Vector256.FusedMultiplyAdd(t0, Vector256.Create(s[0]), a0);
            a1 = Vector256.FusedMultiplyAdd(t1, Vector256.Create(s[1]), a1);
            a2 = Vector256.FusedMultiplyAdd(t2, Vector256.Create(s[2]), a2);
            a3 = Vector256.FusedMultiplyAdd(t3, Vector256.Create(s[3]), a3);
        }
        o[0] = Vector256.Sum(a0); o[1] = Vector256.Sum(a1); o[2] = Vector256.Sum(a2); o[3] = Vector256.Sum(a3);
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
        int groups = cols / groupSize;
        int r = start;
        if (Avx512F.IsSupported && groupSize % 16 == 0)
            for (; r + 4 <= end; r += 4) Four512(q + (long)r * cols, scales + (long)r * groups, cols, groupSize, x, o + r);
        else if (Avx2.IsSupported && groupSize % 8 == 0)
            for (; r + 4 <= end; r += 4) Four256(q + (long)r * cols, scales + (long)r * groups, cols, groupSize, x, o + r);
        for (; r < end; r++) o[r] = One(q + (long)r * cols, scales + (long)r * groups, cols, groupSize, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four512(sbyte* q, float* s, int cols, int gs, float* x, float* o)
    {
        int groups = cols / gs;
        sbyte* q0 = q, q1 = q + cols, q2 = q + 2 * cols, q3 = q + 3 * cols;
        float* s0 = s, s1 = s + groups, s2 = s + 2 * groups, s3 = s + 3 * groups;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0, i = 0; g < groups; g++)
        {
            if ((i & 63) == 0)
            {
                // Int8 rows advance a cache line only every 64 values, too slowly for the hardware prefetcher
                // to keep enough lines in flight: ask for the lines a few iterations ahead.
                Sse.Prefetch0(q0 + i + PrefetchDistance);
                Sse.Prefetch0(q1 + i + PrefetchDistance);
                Sse.Prefetch0(q2 + i + PrefetchDistance);
                Sse.Prefetch0(q3 + i + PrefetchDistance);
            }
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = i + gs; i < end; i += 16)
            {
                var xv = Vector512.Load(x + i);
                t0 = Vector512.FusedMultiplyAdd(Widen512(q0 + i), xv, t0);
                t1 = Vector512.FusedMultiplyAdd(Widen512(q1 + i), xv, t1);
                t2 = Vector512.FusedMultiplyAdd(Widen512(q2 + i), xv, t2);
                t3 = Vector512.FusedMultiplyAdd(Widen512(q3 + i), xv, t3);
            }
            a0 = Vector512.FusedMultiplyAdd(t0, Vector512.Create(s0[g]), a0);
            a1 = Vector512.FusedMultiplyAdd(t1, Vector512.Create(s1[g]), a1);
            a2 = Vector512.FusedMultiplyAdd(t2, Vector512.Create(s2[g]), a2);
            a3 = Vector512.FusedMultiplyAdd(t3, Vector512.Create(s3[g]), a3);
        }
        o[0] = Vector512.Sum(a0); o[1] = Vector512.Sum(a1); o[2] = Vector512.Sum(a2); o[3] = Vector512.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen512(sbyte* p) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four256(sbyte* q, float* s, int cols, int gs, float* x, float* o)
    {
        int groups = cols / gs;
        sbyte* q0 = q, q1 = q + cols, q2 = q + 2 * cols, q3 = q + 3 * cols;
        float* s0 = s, s1 = s + groups, s2 = s + 2 * groups, s3 = s + 3 * groups;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0, i = 0; g < groups; g++)
        {
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = i + gs; i < end; i += 8)
            {
                var xv = Vector256.Load(x + i);
                t0 = Vector256.FusedMultiplyAdd(Widen256(q0 + i), xv, t0);
                t1 = Vector256.FusedMultiplyAdd(Widen256(q1 + i), xv, t1);
                t2 = Vector256.FusedMultiplyAdd(Widen256(q2 + i), xv, t2);
                t3 = Vector256.FusedMultiplyAdd(Widen256(q3 + i), xv, t3);
            }
            a0 = Vector256.FusedMultiplyAdd(t0, Vector256.Create(s0[g]), a0);
            a1 = Vector256.FusedMultiplyAdd(t1, Vector256.Create(s1[g]), a1);
            a2 = Vector256.FusedMultiplyAdd(t2, Vector256.Create(s2[g]), a2);
            a3 = Vector256.FusedMultiplyAdd(t3, Vector256.Create(s3[g]), a3);
        }
        o[0] = Vector256.Sum(a0); o[1] = Vector256.Sum(a1); o[2] = Vector256.Sum(a2); o[3] = Vector256.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen256(sbyte* p) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(*(long*)p).AsSByte()));

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
