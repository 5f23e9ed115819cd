using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Loading;

namespace FiRST.Benchmarks;

// BENCHMARK-ONLY BASELINE. Verbatim copies of DotKernels and Q8Kernels as they were before their 512- and
// 256-bit copies became one generic implementation over the vector width (commit adb1c23), kept so that
// KernelComparison can time old against new in one process. Not used by the runtime; delete together with
// the comparison once nobody needs the before/after numbers.

/// <summary>Pre-change <c>DotKernels</c> (separate 512- and 256-bit copies); baseline for <see cref="KernelComparison"/>.</summary>
internal static unsafe class LegacyDotKernels
{
    /// <summary><c>o[r] = dot(w[r, :], x)</c> for rows <c>[start, end)</c> of a row-major <c>[*, cols]</c> matrix.</summary>
    public static void Rows(float* w, int cols, float* x, float* o, int start, int end)
    {
        int r = start;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; r + 4 <= end; r += 4) Four512(w + (long)r * cols, cols, x, o + r);
        }
        else
        {
            for (; r + 4 <= end; r += 4) Four256(w + (long)r * cols, cols, x, o + r);
        }
        for (; r < end; r++) o[r] = One(w + (long)r * cols, cols, x);
    }

    /// <summary>
    /// <c>o[r] = dot(w[r, :], x)</c> one row at a time, for matrices far larger than the caches: a single
    /// sequential stream keeps the hardware prefetcher further ahead than four interleaved ones (measured on
    /// this machine: about a fifth more bandwidth from one thread).
    /// </summary>
    public static void RowsStreaming(float* w, int cols, float* x, float* o, int start, int end)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            Rows(w, cols, x, o, start, end);
            return;
        }
        for (int r = start; r < end; r++)
        {
            float* row = w + (long)r * cols;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i + 64 <= cols; i += 64)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i + 16), Vector512.Load(x + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i + 32), Vector512.Load(x + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i + 48), Vector512.Load(x + i + 48), a3);
            }
            for (; i + 16 <= cols; i += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i), Vector512.Load(x + i), a0);
            float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
            for (; i < cols; i++) sum += row[i] * x[i];
            o[r] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four512(float* w, int cols, float* x, float* o)
    {
        float* w0 = w, w1 = w + cols, w2 = w + 2 * cols, w3 = w + 3 * cols;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 16 <= cols; i += 16)
        {
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w1 + i), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(w2 + i), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(w3 + i), xv, a3);
        }
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < cols; i++)
        {
            float xi = x[i];
            s0 += w0[i] * xi; s1 += w1[i] * xi; s2 += w2[i] * xi; s3 += w3[i] * xi;
        }
        o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four256(float* w, int cols, float* x, float* o)
    {
        float* w0 = w, w1 = w + cols, w2 = w + 2 * cols, w3 = w + 3 * cols;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 8 <= cols; i += 8)
        {
            var xv = Vector256.Load(x + i);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i), xv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i), xv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i), xv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i), xv, a3);
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
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

/// <summary>Pre-change <c>Q8Kernels</c> (separate 512- and 256-bit copies); baseline for <see cref="KernelComparison"/>.</summary>
internal static unsafe class LegacyQ8Kernels
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
