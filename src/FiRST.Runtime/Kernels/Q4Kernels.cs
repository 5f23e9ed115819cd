using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Dot products of 4-bit weight rows (<see cref="Q4Layout"/>) with an int8 activation vector, as llama.cpp's
/// Q4_0 x Q8_0: the nibbles (0 to 15) are the unsigned operand of the integer multiply-add as they are, and
/// the offset of 8 is taken off with the activations' sum, in the integer sums (see <see cref="Block"/>):
/// <c>sum((n - 8) * x) = sum(n * x) - 8 * sum(x)</c>. Without int8 activations (or AVX2) a scalar kernel
/// dequantizes each value.
/// </summary>
internal static unsafe class Q4Kernels
{
    /// <summary>Bytes ahead of the current position that the rows are prefetched.</summary>
    private const int PrefetchDistance = 1024;

    /// <summary>True when this processor runs the integer kernel (x64 with AVX2 and FMA).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// <c>o[r] = dot(w row r, x)</c> for rows <c>[start, end)</c> (<paramref name="start"/> a multiple of four):
    /// integer products with <paramref name="xq"/> where it is set (groups of 32) and the processor runs them,
    /// rows past the last full block and everything else by the scalar kernel on <paramref name="x"/>.
    /// </summary>
    public static void Rows(Matrix w, in QuantizedVector xq, float* x, float* o, int start, int end)
    {
        int r = start;
        if (IsSupported && xq.IsSet && xq.GroupSize == Q4Layout.GroupSize && xq.Length == w.Cols)
        {
            int full = w.Rows / Q4Layout.BlockRows * Q4Layout.BlockRows;
            long blockBytes = (long)Q4Layout.BlockRows * w.Cols / 2;
            int groups = w.Cols / Q4Layout.GroupSize;
            for (; r + Q4Layout.BlockRows <= Math.Min(end, full); r += Q4Layout.BlockRows)
                Block(w.Nibbles + r / Q4Layout.BlockRows * blockBytes, w.Scales + (long)r * groups, groups, xq, o + r);
            if (r < end && r < full)
            {
                float* four = stackalloc float[Q4Layout.BlockRows];
                Block(w.Nibbles + r / Q4Layout.BlockRows * blockBytes, w.Scales + (long)r * groups, groups, xq, four);
                for (int k = 0; r < end; r++, k++) o[r] = four[k];
                return;
            }
        }
        for (; r < end; r++) o[r] = Scalar(w, r, x);
    }

    /// <summary>
    /// Four rows of a block. The weights' offset of 8 is folded into the integer sums: each row's four lanes
    /// start at <c>-2 * sum(x)</c> instead of 0, so a group's lanes add up to <c>sum((n - 8) * x)</c> with no float
    /// correction afterwards; with <see cref="FourRowSums"/>' scaling, 17 vector instructions per group and
    /// 64 bytes of weights, 6 fewer than a float offset and a cross-lane permute per pair of rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block(byte* p, float* s, int groups, in QuantizedVector xq, float* o)
    {
        var low = Vector256.Create((byte)0x0F);
        var f01 = Vector256<float>.Zero;
        var f23 = Vector256<float>.Zero;
        sbyte* xv = xq.Values;
        float* xs = xq.Scales;
        int* sums = xq.Sums;
        for (int g = 0; g < groups; g++, p += 64, s += Q4Layout.BlockRows, xv += Q4Layout.GroupSize)
        {
            Sse.Prefetch0(p + PrefetchDistance);
            var v01 = Avx.LoadVector256(p);
            var v23 = Avx.LoadVector256(p + 32);
            // Low nibbles are a group's first 16 values, high nibbles its last 16, for both rows of a load.
            var xLow = Avx2.BroadcastVector128ToVector256(xv);
            var xHigh = Avx2.BroadcastVector128ToVector256(xv + 16);
            var offset = Vector256.Create(-2 * sums[g]);
            var a01 = Dot(Dot(offset, v01 & low, xLow), Avx2.ShiftRightLogical(v01.AsUInt16(), 4).AsByte() & low, xHigh);
            var a23 = Dot(Dot(offset, v23 & low, xLow), Avx2.ShiftRightLogical(v23.AsUInt16(), 4).AsByte() & low, xHigh);
            FourRowSums.Accumulate(a01, a23, s, xs[g], ref f01, ref f23);
        }
        FourRowSums.Store(f01, f23, o);
    }

    /// <summary>
    /// <paramref name="acc"/> plus, in each int32 lane, four unsigned values (0 to 15) times four signed ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> n, Vector256<sbyte> x) =>
        AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, n, x) : DotAvx2(acc, n, x);

    /// <summary><see cref="Dot"/> with AVX2: pairs of products fit 16 bits (2 x 15 x 127), so nothing saturates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotAvx2(Vector256<int> acc, Vector256<byte> n, Vector256<sbyte> x) =>
        Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(n, x), Vector256<short>.One));

    /// <summary>One row against float32 activations, each value dequantized.</summary>
    private static float Scalar(Matrix w, int row, float* x)
    {
        float total = 0;
        for (int g = 0; g < w.Cols / Q4Layout.GroupSize; g++)
        {
            var (at, s) = Q4Layout.Offsets(w.Rows, w.Cols, row, g);
            byte* p = w.Nibbles + at;
            float* xg = x + g * Q4Layout.GroupSize;
            float sum = 0;
            for (int j = 0; j < Q4Layout.GroupBytes; j++)
                sum += ((p[j] & 0x0F) - 8) * xg[j] + ((p[j] >> 4) - 8) * xg[j + Q4Layout.GroupBytes];
            total += sum * w.Scales[s];
        }
        return total;
    }
}
