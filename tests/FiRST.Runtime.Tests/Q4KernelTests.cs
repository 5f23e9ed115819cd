using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// 4-bit weights: quantization as ggml's reference Q4_0 quantizer, the block layout, and the kernels against
/// exact references (integer products with int8 activations, float products without).
/// </summary>
public sealed unsafe class Q4KernelTests
{
    private const float Untouched = 12345f;

    [Fact]
    public void GroupsAreNeverWorseThanGgmlsQ4_0AndItsValuesComeBackUnchanged()
    {
        int rows = 6, cols = 96;
        var rng = new Random(3);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        for (int i = 32; i < 64; i++) w[i] = 0;             // an all-zero group
        double ours = 0, ggml = 0;
        var dequantized = Quantize(w, rows, cols);
        var reference = Support.GgufWriter.RoundTrip(w, "Q4_0");
        for (int g = 0; g < rows * cols / 32; g++)
        {
            double e = 0, eg = 0;
            for (int j = g * 32; j < g * 32 + 32; j++)
            {
                e += Math.Pow(w[j] - dequantized[j], 2);
                eg += Math.Pow(w[j] - reference[j], 2);
            }
            Assert.True(e <= eg * (1 + 1e-3) + 1e-12, $"group {g}: squared error {e} above ggml's {eg}");
            ours += e;
            ggml += eg;
        }
        Assert.True(ours < 0.97 * ggml, $"the scale search saved nothing: {ours} vs ggml's {ggml}");
        Assert.All(dequantized.Skip(32).Take(32), v => Assert.Equal(0f, v));
        // Q4_0 values (what a GGUF file holds) quantize back to exactly themselves.
        Assert.Equal(reference, Quantize(reference, rows, cols));
    }

    /// <summary>Quantizes a row-major matrix to 4 bits and reads every row back as float32.</summary>
    private static float[] Quantize(float[] w, int rows, int cols)
    {
        var nibbles = new byte[rows * cols / 2];
        var scales = new float[rows * cols / 32];
        var result = new float[rows * cols];
        fixed (float* pw = w, ps = scales) fixed (byte* pn = nibbles)
        {
            for (int r = 0; r < rows; r++) Q4Layout.QuantizeRow(pw + r * cols, rows, cols, r, pn, ps);
            var m = Matrix.FourBit(pn, ps, rows, cols);
            Assert.Equal("q4", m.FormatName);
            Assert.Equal(rows * cols / 2 + rows * cols / 32 * 4, m.Bytes);
            for (int r = 0; r < rows; r++) m.CopyRow(r, result.AsSpan(r * cols, cols));
        }
        return result;
    }

    [Fact]
    public void BothFormsOfTheUnsignedStepAreExact()
    {
        if (!Avx2.IsSupported) return;
        var rng = new Random(11);
        for (int trial = 0; trial < 100; trial++)
        {
            var n = new byte[32];
            var x = new sbyte[32];
            for (int i = 0; i < 32; i++)
            {
                n[i] = trial == 0 ? (byte)15 : (byte)rng.Next(0, 16);
                x[i] = trial == 0 ? (sbyte)-127 : (sbyte)rng.Next(-127, 128);
            }
            var expected = new int[8];
            for (int lane = 0; lane < 8; lane++)
                for (int k = 0; k < 4; k++) expected[lane] += n[lane * 4 + k] * x[lane * 4 + k];
            fixed (byte* pn = n) fixed (sbyte* px = x)
            {
                var a = new int[8];
                Q4Kernels.DotAvx2(Vector256<int>.Zero, Vector256.Load(pn), Vector256.Load(px)).CopyTo(a);
                Assert.Equal(expected, a);
                if (AvxVnni.IsSupported)
                {
                    Q4Kernels.Dot(Vector256<int>.Zero, Vector256.Load(pn), Vector256.Load(px)).CopyTo(a);
                    Assert.Equal(expected, a);
                }
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RowsMatchTheExactReferences(bool int8Activations)
    {
        // Full blocks plus a row-major tail; ranges from a block boundary past 0, ending inside a block or the tail.
        foreach (var (rows, cols, start, end) in new[] { (11, 64, 4, 11), (14, 96, 4, 13), (8, 32, 0, 8), (12, 128, 0, 6) })
        {
            var rng = new Random(rows * 17 + cols);
            var nibbles = new byte[rows * cols / 2];
            var scales = new float[rows * cols / 32];
            var expectedN = new int[rows, cols];
            var scaleOf = new float[rows, cols / 32];
            fixed (byte* pn = nibbles) fixed (float* ps = scales)
                for (int r = 0; r < rows; r++)
                    for (int g = 0; g < cols / 32; g++)
                    {
                        var block = new byte[16];
                        for (int j = 0; j < 16; j++)
                        {
                            int lo = rng.Next(0, 16), hi = rng.Next(0, 16);
                            block[j] = (byte)(lo | hi << 4);
                            expectedN[r, g * 32 + j] = lo;
                            expectedN[r, g * 32 + j + 16] = hi;
                        }
                        scaleOf[r, g] = (float)rng.NextDouble() * 0.02f;
                        fixed (byte* pb = block) Q4Layout.PlaceGroup(pb, scaleOf[r, g], rows, cols, r, g, pn, ps);
                    }
            var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var xq = new sbyte[cols];
            var xs = new float[cols / 32];
            var sums = new int[cols / 32];
            var o = Enumerable.Repeat(Untouched, rows).ToArray();
            fixed (byte* pn = nibbles) fixed (float* ps = scales, px = x, pxs = xs, po = o) fixed (sbyte* pxq = xq) fixed (int* psum = sums)
            {
                Int8Activations.Quantize(px, cols, 32, pxq, pxs, psum);
                var v = int8Activations ? new QuantizedVector(pxq, pxs, psum, cols, 32) : default;
                Q4Kernels.Rows(Matrix.FourBit(pn, ps, rows, cols), v, px, po, start, end);
            }
            bool integer = int8Activations && Q4Kernels.IsSupported;
            int tail = rows / 4 * 4;
            for (int r = 0; r < rows; r++)
            {
                string what = $"{rows}x{cols} [{start},{end}) row {r}, int8 activations {int8Activations}";
                if (r < start || r >= end)
                {
                    Assert.True(o[r] == Untouched, $"{what}: outside the range, written");
                    continue;
                }
                double expected = 0, magnitude = 0;
                for (int g = 0; g < cols / 32; g++)
                {
                    long dot = 0;
                    double floatDot = 0;
                    for (int c = g * 32; c < g * 32 + 32; c++)
                    {
                        dot += (expectedN[r, c] - 8) * xq[c];
                        floatDot += (expectedN[r, c] - 8) * (double)x[c];
                    }
                    double term = integer && r < tail ? dot * (double)scaleOf[r, g] * xs[g] : floatDot * scaleOf[r, g];
                    expected += term;
                    magnitude += Math.Abs(term);
                }
                Assert.True(Math.Abs(o[r] - expected) <= 1e-5 * magnitude + 1e-6, $"{what}: {o[r]} vs {expected}");
            }
        }
    }

    [Fact]
    public void RowsThatAreNotWholeGroupsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => Matrix.FourBit(null, null, 4, 48));
        Assert.False(Q4Layout.CanHold(172));
    }
}
