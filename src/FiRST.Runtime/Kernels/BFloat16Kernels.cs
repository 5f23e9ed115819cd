using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Dot products of bfloat16 matrix rows with a float32 vector. Each weight is widened to float32 in registers
/// (a 16-bit shift, exact) and the products are summed in float32, so the result is the float32 kernel's on
/// the widened matrix up to summation order; only the bytes read are halved, which is what decode is bound by.
/// Written once over the vector width (<see cref="IFloatVector{TVec}"/>): 512-bit where the processor runs
/// it natively, else 256-bit; a scalar loop takes the columns past the last whole vector.
/// </summary>
/// <remarks>
/// AVX-512 BF16's <c>vdpbf16ps</c> would multiply bfloat16 by bfloat16: the activations would have to be
/// rounded to bfloat16 too, changing the results, and .NET 10 exposes no intrinsic for it; so it is not used.
/// </remarks>
internal static unsafe class BFloat16Kernels
{
    /// <summary>
    /// Elements (1 KiB) ahead of the current position that the rows are prefetched. bfloat16 rows advance a cache
    /// line every 32 values, too slowly for the hardware prefetcher alone (as int8 rows, <see cref="Q8Kernels"/>):
    /// measured on the 1B shape at 2 threads, 1.06x to 1.16x faster decode with it; 2 KiB was no better.
    /// </summary>
    private const int PrefetchDistance = 512;

    /// <summary><c>o[r] = dot(w[r, :], x)</c> for rows <c>[start, end)</c> of a row-major bfloat16 <c>[*, cols]</c> matrix.</summary>
    public static void Rows(ushort* w, int cols, float* x, float* o, int start, int end)
    {
        if (Vector512.IsHardwareAccelerated) Rows<V512, Vector512<float>>(w, cols, x, o, start, end);
        else if (Vector256.IsHardwareAccelerated) Rows<V256, Vector256<float>>(w, cols, x, o, start, end);
        else Rows<V128, Vector128<float>>(w, cols, x, o, start, end);
    }

    /// <summary>
    /// <see cref="Rows(ushort*, int, float*, float*, int, int)"/> at one vector width (tests call both): four
    /// rows at a time, so each load of <paramref name="x"/> feeds four multiply-adds. Used for every size: a
    /// one-row streaming variant, as float32 has for large matrices, was slower (1B shape, 2 threads: 1.3x the
    /// decode time, interleaved <c>first bench</c> runs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Rows<TV, TVec>(ushort* w, int cols, float* x, float* o, int start, int end) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        int r = start;
        for (; r + 4 <= end; r += 4) Four<TV, TVec>(w + (long)r * cols, cols, x, o + r);
        for (; r < end; r++) o[r] = One<TV, TVec>(w + (long)r * cols, cols, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four<TV, TVec>(ushort* w, int cols, float* x, float* o) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        ushort* w0 = w, w1 = w + cols, w2 = w + 2 * cols, w3 = w + 3 * cols;
        TVec a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + TV.Count <= cols; i += TV.Count)
        {
            if (Sse.IsSupported && (i & 31) == 0)
            {
                Sse.Prefetch0(w0 + i + PrefetchDistance);
                Sse.Prefetch0(w1 + i + PrefetchDistance);
                Sse.Prefetch0(w2 + i + PrefetchDistance);
                Sse.Prefetch0(w3 + i + PrefetchDistance);
            }
            var xv = TV.Load(x + i);
            a0 = TV.FusedMultiplyAdd(TV.LoadBFloat16(w0 + i), xv, a0);
            a1 = TV.FusedMultiplyAdd(TV.LoadBFloat16(w1 + i), xv, a1);
            a2 = TV.FusedMultiplyAdd(TV.LoadBFloat16(w2 + i), xv, a2);
            a3 = TV.FusedMultiplyAdd(TV.LoadBFloat16(w3 + i), xv, a3);
        }
        float s0 = TV.Sum(a0), s1 = TV.Sum(a1), s2 = TV.Sum(a2), s3 = TV.Sum(a3);
        for (; i < cols; i++)
        {
            float xi = x[i];
            s0 += ToFloat(w0[i]) * xi; s1 += ToFloat(w1[i]) * xi; s2 += ToFloat(w2[i]) * xi; s3 += ToFloat(w3[i]) * xi;
        }
        o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float One<TV, TVec>(ushort* w, int cols, float* x) where TV : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec a = default;
        int i = 0;
        for (; i + TV.Count <= cols; i += TV.Count) a = TV.FusedMultiplyAdd(TV.LoadBFloat16(w + i), TV.Load(x + i), a);
        float s = TV.Sum(a);
        for (; i < cols; i++) s += ToFloat(w[i]) * x[i];
        return s;
    }

    /// <summary>One bfloat16 value (raw bits) as float32, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// bfloat16 nearest to <paramref name="value"/> (ties to even; NaN stays NaN), as raw bits: how a float32
    /// checkpoint is converted to bfloat16.
    /// </summary>
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Widens <c>destination.Length</c> bfloat16 values from <paramref name="source"/> into <paramref name="destination"/>.</summary>
    public static void Widen(ushort* source, Span<float> destination)
    {
        fixed (float* d = destination)
        {
            int n = destination.Length, i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i + V512.Count <= n; i += V512.Count) V512.LoadBFloat16(source + i).Store(d + i);
            else if (Vector256.IsHardwareAccelerated)
                for (; i + V256.Count <= n; i += V256.Count) V256.LoadBFloat16(source + i).Store(d + i);
            else
                for (; i + V128.Count <= n; i += V128.Count) V128.LoadBFloat16(source + i).Store(d + i);
            for (; i < n; i++) d[i] = ToFloat(source[i]);
        }
    }
}
