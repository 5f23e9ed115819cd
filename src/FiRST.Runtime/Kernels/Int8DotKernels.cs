using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Dot products of int8 weight rows with an int8 activation vector (<see cref="QuantizedVector"/>), as
/// llama.cpp's Q8_0 x Q8_0 path: each group's products are summed as integers and the group sum scaled once
/// by the weight's and the activation's scales. Widening every weight to float (<see cref="Q8Kernels"/>)
/// costs more instructions per byte than memory delivers bytes; here a 32-byte load of weights is one
/// <c>vpdpbusd</c> (AVX-VNNI) or two multiply-adds (AVX2), so decode is bound by reading the weights.
/// </summary>
/// <remarks>
/// The multiply-add takes one unsigned and one signed operand: the weights' magnitudes and the activations
/// with the weights' signs (llama.cpp's trick), which is exact for weights in [-128, 127] and activations in
/// [-127, 127]. .NET 10 exposes VNNI at 256 bits only (<see cref="AvxVnni"/>), so these kernels are 256-bit on
/// AVX-512 machines too. Weights in <see cref="Q8Layout"/>'s interleaved order: a 64-byte line holds 16
/// columns of four rows, so one 32-byte load is two rows' 16 columns and the 16 activations are broadcast to
/// both halves.
/// </remarks>
internal static unsafe class Int8DotKernels
{
    /// <summary>
    /// Bytes ahead of the current position that the int8 rows are prefetched: 2 KiB decoded the 1B shape (int8, 2
    /// threads, from memory) 0.90x the time of 1 KiB (median of 10 paired rounds, 0.76 to 1.05); 4 KiB was no better.
    /// The 4-bit kernel measured no difference and keeps 1 KiB.
    /// </summary>
    private const int PrefetchDistance = 2048;

    /// <summary>True when this processor runs the integer kernels (x64 with AVX2 and FMA).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>True when the integer kernels can multiply <paramref name="w"/>: interleaved int8 on a processor that runs them.</summary>
    public static bool Supports(Matrix w) => IsSupported && w.IsInt8 && w.IsInterleaved;

    /// <summary>
    /// <c>o[r] = sum_g sw[r, g] * sx[g] * sum(qw[r, g] * qx[g])</c> for rows <c>[start, end)</c> of an
    /// interleaved int8 matrix; rows past its last full block of four use the float kernel on
    /// <paramref name="xf"/> (the same vector unquantized). <paramref name="x"/>'s groups must be the matrix's.
    /// </summary>
    public static void Rows(Matrix w, in QuantizedVector x, float* xf, float* o, int start, int end)
    {
        if (!Supports(w) || x.GroupSize != w.GroupSize || x.Length != w.Cols)
            throw new ArgumentException($"int8 activations in groups of {x.GroupSize} do not fit this [{w.Rows}, {w.Cols}] matrix (groups of {w.GroupSize})");
        int cols = w.Cols, gs = w.GroupSize, groups = cols / gs;
        int fullBlocks = w.Rows / Q8Layout.BlockRows * Q8Layout.BlockRows;
        int r = start;
        for (; r + Q8Layout.BlockRows <= Math.Min(end, fullBlocks); r += Q8Layout.BlockRows)
            Block(w.Quantized + (long)r * cols, w.Scales + (long)r * groups, groups, gs, x.Values, x.Scales, o + r);
        if (r < end && r < fullBlocks)
        {
            // The range ends inside a full block: compute the block and keep the rows asked for.
            float* four = stackalloc float[Q8Layout.BlockRows];
            Block(w.Quantized + (long)r * cols, w.Scales + (long)r * groups, groups, gs, x.Values, x.Scales, four);
            for (int k = 0; r < end; r++, k++) o[r] = four[k];
            return;
        }
        if (r < end) Q8Kernels.Rows(w, xf, o, r, end);
    }

    /// <summary>Four interleaved rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block(sbyte* p, float* s, int groups, int gs, sbyte* xq, float* xs, float* o)
    {
        var f01 = Vector256<float>.Zero;
        var f23 = Vector256<float>.Zero;
        // Lanes 0-3 of an accumulator are partial sums of the first of its two rows, lanes 4-7 of the second.
        for (int g = 0, i = 0; g < groups; g++, s += Q8Layout.BlockRows)
        {
            var a01 = Vector256<int>.Zero;
            var a23 = Vector256<int>.Zero;
            for (int end = i + gs; i < end; i += Q8Layout.ChunkCols, p += 64)
            {
                Sse.Prefetch0(p + PrefetchDistance);
                var xv = Avx2.BroadcastVector128ToVector256(xq + i);
                a01 = Dot(a01, Avx.LoadVector256(p), xv);
                a23 = Dot(a23, Avx.LoadVector256(p + 32), xv);
            }
            FourRowSums.Accumulate(a01, a23, s, xs[g], ref f01, ref f23);
        }
        FourRowSums.Store(f01, f23, o);
    }

    /// <summary>
    /// <paramref name="acc"/> plus, in each int32 lane, the dot product of four signed weights with four
    /// signed activations.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Dot(Vector256<int> acc, Vector256<sbyte> w, Vector256<sbyte> x) =>
        AvxVnni.IsSupported ? DotVnni(acc, w, x) : DotAvx2(acc, w, x);

    /// <summary><see cref="Dot"/> with one AVX-VNNI multiply-add (tests call both forms).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotVnni(Vector256<int> acc, Vector256<sbyte> w, Vector256<sbyte> x) =>
        AvxVnni.MultiplyWideningAndAdd(acc, Avx2.Abs(w), Avx2.Sign(x, w));

    /// <summary>
    /// <see cref="Dot"/> with AVX2's two multiply-adds: pairs of products fit 16 bits (2 x 128 x 127 &lt; 32768),
    /// so the saturating first one never saturates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotAvx2(Vector256<int> acc, Vector256<sbyte> w, Vector256<sbyte> x) =>
        Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(x, w)), Vector256<short>.One));
}
