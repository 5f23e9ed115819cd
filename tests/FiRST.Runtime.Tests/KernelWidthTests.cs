using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// The dot-product kernels are written once over the vector width (<see cref="IFloatVector{TVec}"/>) and the
/// runtime picks one width per processor, so a machine runs only one of them through the public entry
/// points. These tests call each width's instantiation directly (512-bit where the processor has it) on
/// shapes that leave remainders everywhere: columns not a multiple of 16, rows not a multiple of 4, a range
/// that does not start at row 0; against a double-precision scalar reference.
/// </summary>
public sealed unsafe class KernelWidthTests
{
    public static TheoryData<int> Widths()
    {
        var widths = new TheoryData<int> { 128, 256 };
        if (Vector512.IsHardwareAccelerated) widths.Add(512);
        return widths;
    }

    private const float Untouched = 12345f;

    [Theory]
    [MemberData(nameof(Widths))]
    public void Float32RowsMatchTheScalarReferenceAtEachWidth(int width)
    {
        foreach (var (rows, cols, start, end) in new[] { (11, 37, 1, 11), (9, 300, 2, 9), (8, 16, 0, 8), (6, 7, 1, 6), (13, 131, 3, 12) })
        {
            var w = RandomFloats(rows * cols, rows * 7 + cols);
            var x = RandomFloats(cols, cols);
            foreach (bool streaming in new[] { false, true })
            {
                var o = Enumerable.Repeat(Untouched, rows).ToArray();
                fixed (float* pw = w, px = x, po = o)
                {
                    if (width == 512)
                    {
                        if (streaming) DotKernels.RowsStreaming<V512, Vector512<float>>(pw, cols, px, po, start, end);
                        else DotKernels.Rows<V512, Vector512<float>>(pw, cols, px, po, start, end);
                    }
                    else if (width == 128)
                    {
                        if (streaming) DotKernels.RowsStreaming<V128, Vector128<float>>(pw, cols, px, po, start, end);
                        else DotKernels.Rows<V128, Vector128<float>>(pw, cols, px, po, start, end);
                    }
                    else if (streaming) DotKernels.RowsStreaming<V256, Vector256<float>>(pw, cols, px, po, start, end);
                    else DotKernels.Rows<V256, Vector256<float>>(pw, cols, px, po, start, end);
                }
                string what = $"{(streaming ? "RowsStreaming" : "Rows")}<{width}> {rows}x{cols} [{start},{end})";
                for (int r = 0; r < rows; r++)
                {
                    if (r < start || r >= end)
                    {
                        Assert.True(o[r] == Untouched, $"{what}: row {r} outside the range was written");
                        continue;
                    }
                    double expected = 0, magnitude = 0;
                    for (int c = 0; c < cols; c++)
                    {
                        expected += (double)w[r * cols + c] * x[c];
                        magnitude += Math.Abs((double)w[r * cols + c] * x[c]);
                    }
                    Assert.True(Math.Abs(o[r] - expected) <= 1e-5 * magnitude + 1e-6, $"{what}: row {r}: {o[r]} vs {expected}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void BFloat16RowsMatchTheScalarReferenceAtEachWidth(int width)
    {
        // Columns below one vector, between widths, and past whole vectors; rows not a multiple of four.
        foreach (var (rows, cols, start, end) in new[] { (11, 37, 1, 11), (9, 300, 2, 9), (8, 16, 0, 8), (6, 7, 1, 6), (13, 131, 3, 12), (5, 8, 0, 5), (4, 24, 0, 4) })
        {
            var w = RandomFloats(rows * cols, rows * 5 + cols).Select(BFloat16Kernels.FromFloat).ToArray();
            var x = RandomFloats(cols, cols + 3);
            var o = Enumerable.Repeat(Untouched, rows).ToArray();
            fixed (ushort* pw = w)
            fixed (float* px = x, po = o)
            {
                if (width == 512) BFloat16Kernels.Rows<V512, Vector512<float>>(pw, cols, px, po, start, end);
                else if (width == 128) BFloat16Kernels.Rows<V128, Vector128<float>>(pw, cols, px, po, start, end);
                else BFloat16Kernels.Rows<V256, Vector256<float>>(pw, cols, px, po, start, end);
            }
            string what = $"BFloat16Kernels.Rows<{width}> {rows}x{cols} [{start},{end})";
            for (int r = 0; r < rows; r++)
            {
                if (r < start || r >= end)
                {
                    Assert.True(o[r] == Untouched, $"{what}: row {r} outside the range was written");
                    continue;
                }
                double expected = 0, magnitude = 0;
                for (int c = 0; c < cols; c++)
                {
                    // The scalar reference widens by the definition: the bits as the top half of a float32.
                    double wc = BitConverter.UInt32BitsToSingle((uint)w[r * cols + c] << 16);
                    expected += wc * x[c];
                    magnitude += Math.Abs(wc * x[c]);
                }
                Assert.True(Math.Abs(o[r] - expected) <= 1e-5 * magnitude + 1e-6, $"{what}: row {r}: {o[r]} vs {expected}");
            }
        }
    }

    [Fact]
    public void BFloat16RoundsToNearestEvenAndWidensExactly()
    {
        Assert.Equal(0x3F80, BFloat16Kernels.FromFloat(1f));
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even neighbour, 1.
        Assert.Equal(0x3F80, BFloat16Kernels.FromFloat(1f + 1f / 256));
        Assert.Equal(0x3F81, BFloat16Kernels.FromFloat(1f + 1f / 256 + 1f / 65536));
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
        Assert.Equal(0x3F82, BFloat16Kernels.FromFloat(1f + 3f / 256));
        Assert.Equal(0xC000, BFloat16Kernels.FromFloat(-2f));
        Assert.True(float.IsNaN(BFloat16Kernels.ToFloat(BFloat16Kernels.FromFloat(float.NaN))));
        Assert.Equal(float.PositiveInfinity, BFloat16Kernels.ToFloat(BFloat16Kernels.FromFloat(float.PositiveInfinity)));

        // Widen (every vector width the processor has, then the scalar tail) against the definition.
        var bits = Enumerable.Range(0, 77).Select(i => BFloat16Kernels.FromFloat((i - 38) * 0.37f)).ToArray();
        var wide = new float[bits.Length];
        fixed (ushort* p = bits) BFloat16Kernels.Widen(p, wide);
        for (int i = 0; i < bits.Length; i++) Assert.Equal(BitConverter.UInt32BitsToSingle((uint)bits[i] << 16), wide[i]);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Q8RowMajorRowsMatchTheScalarReferenceAtEachWidth(int width)
    {
        // Group sizes 8 (whole 256-bit vectors only), 16 and 32; 40 columns is not a multiple of 16.
        foreach (var (rows, cols, groupSize, start, end) in new[] { (11, 40, 8, 1, 11), (9, 48, 16, 2, 9), (10, 96, 32, 3, 10), (7, 64, 32, 0, 7) })
        {
            var (q, s) = RandomQ8(rows, cols, groupSize, rows * 3 + cols);
            var x = RandomFloats(cols, cols + 1);
            var o = Enumerable.Repeat(Untouched, rows).ToArray();
            fixed (sbyte* pq = q) fixed (float* ps = s, px = x, po = o)
            {
                if (width == 512) Q8Kernels.RowMajor<V512, Vector512<float>>(pq, ps, cols, groupSize, px, po, start, end);
                else if (width == 128) Q8Kernels.RowMajor<V128, Vector128<float>>(pq, ps, cols, groupSize, px, po, start, end);
                else Q8Kernels.RowMajor<V256, Vector256<float>>(pq, ps, cols, groupSize, px, po, start, end);
            }
            CheckQ8(o, q, s, x, rows, cols, groupSize, start, end, $"RowMajor<{width}> {rows}x{cols}/{groupSize} [{start},{end})");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Q8InterleavedRowsMatchTheScalarReferenceAtEachWidth(int width)
    {
        // 11 and 14 rows: full blocks of four plus a row-major tail; ranges start at a block boundary
        // (the kernel's contract) other than 0, and end inside the tail.
        foreach (var (rows, cols, groupSize, start, end) in new[] { (11, 48, 16, 4, 11), (14, 96, 32, 4, 13), (9, 32, 32, 0, 9), (12, 80, 16, 8, 12) })
        {
            var (q, s) = RandomQ8(rows, cols, groupSize, rows * 5 + cols);
            var x = RandomFloats(cols, cols + 2);
            var qi = new sbyte[q.Length];
            var si = new float[s.Length];
            var o = Enumerable.Repeat(Untouched, rows).ToArray();
            fixed (sbyte* pq = q, pqi = qi) fixed (float* ps = s, psi = si, px = x, po = o)
            {
                Q8Layout.Interleave(pq, ps, rows, cols, groupSize, pqi, psi);
                var m = new Matrix(pqi, psi, rows, cols, groupSize, interleaved: true);
                if (width == 512) Q8Kernels.Interleaved<V512, Vector512<float>>(m, px, po, start, end);
                else if (width == 128) Q8Kernels.Interleaved<V128, Vector128<float>>(m, px, po, start, end);
                else Q8Kernels.Interleaved<V256, Vector256<float>>(m, px, po, start, end);
            }
            CheckQ8(o, q, s, x, rows, cols, groupSize, start, end, $"Interleaved<{width}> {rows}x{cols}/{groupSize} [{start},{end})");
        }
    }

    /// <summary>The 512-bit instantiations only run vector code where the processor widens int8 at that width.</summary>
    [Fact]
    public void WidthsReportTheirInstructionSets()
    {
        Assert.Equal(16, V512.Count);
        Assert.Equal(8, V256.Count);
        Assert.Equal(Avx512F.IsSupported, V512.CanWidenInt8);
        Assert.Equal(Avx2.IsSupported, V256.CanWidenInt8);
        Assert.Equal(4, V128.Count);
        Assert.Equal(Vector128.IsHardwareAccelerated, V128.CanWidenInt8);
    }

    private static void CheckQ8(float[] o, sbyte[] q, float[] s, float[] x, int rows, int cols, int groupSize, int start, int end, string what)
    {
        int groups = cols / groupSize;
        for (int r = 0; r < rows; r++)
        {
            if (r < start || r >= end)
            {
                Assert.True(o[r] == Untouched, $"{what}: row {r} outside the range was written");
                continue;
            }
            double expected = 0, magnitude = 0;
            for (int c = 0; c < cols; c++)
            {
                double term = q[r * cols + c] * (double)s[r * groups + c / groupSize] * x[c];
                expected += term;
                magnitude += Math.Abs(term);
            }
            Assert.True(Math.Abs(o[r] - expected) <= 1e-5 * magnitude + 1e-6, $"{what}: row {r}: {o[r]} vs {expected}");
        }
    }

    private static float[] RandomFloats(int count, int seed)
    {
        var rng = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }

    private static (sbyte[] Q, float[] S) RandomQ8(int rows, int cols, int groupSize, int seed)
    {
        var rng = new Random(seed);
        var q = new sbyte[rows * cols];
        var s = new float[rows * cols / groupSize];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
        for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextDouble() * 0.02f;
        return (q, s);
    }
}
