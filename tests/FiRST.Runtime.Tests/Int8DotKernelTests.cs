using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// The integer kernels (int8 weights times int8 activations) against exact integer references: activations
/// quantized as llama.cpp's Q8_0 does them, each four-product step in both its AVX-VNNI and AVX2 forms, and
/// whole rows on shapes with a row-major tail and ranges that start past row 0 or end inside a block.
/// </summary>
public sealed unsafe class Int8DotKernelTests
{
    private const float Untouched = 12345f;

    [Fact]
    public void ActivationsAreQuantizedPerGroupWithScaleMaxOver127AndTheirSums()
    {
        foreach (var (length, groupSize) in new[] { (96, 32), (64, 16), (128, 64), (48, 16) })
        {
            var rng = new Random(length + groupSize);
            var x = Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            x[3] = 0; x[groupSize] = -2.5f;            // a group whose largest magnitude is negative
            if (length >= 3 * groupSize) for (int i = 2 * groupSize; i < 3 * groupSize; i++) x[i] = 0;   // an all-zero group
            var q = new sbyte[length];
            var scales = new float[length / groupSize];
            var sums = new int[length / groupSize];
            fixed (float* px = x, ps = scales) fixed (sbyte* pq = q) fixed (int* psum = sums)
                Int8Activations.Quantize(px, length, groupSize, pq, ps, psum);
            for (int g = 0; g < length / groupSize; g++)
            {
                float max = 0;
                for (int i = g * groupSize; i < (g + 1) * groupSize; i++) max = Math.Max(max, Math.Abs(x[i]));
                Assert.Equal(max / 127f, scales[g]);
                int sum = 0;
                for (int i = g * groupSize; i < (g + 1) * groupSize; i++)
                {
                    int expected = max == 0 ? 0 : (int)Math.Round(x[i] * (1f / (max / 127f)), MidpointRounding.ToEven);
                    Assert.True(expected == q[i], $"{length}/{groupSize}: value {i}: {q[i]}, expected {expected}");
                    Assert.InRange(q[i], -127, 127);
                    sum += q[i];
                }
                Assert.Equal(sum, sums[g]);
            }
        }
    }

    [Fact]
    public void BothFormsOfTheFourProductStepAreExactAtTheExtremes()
    {
        if (!Avx2.IsSupported) return;   // x64 without AVX2: the float kernels run; nothing here to test
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            var w = new sbyte[32];
            var x = new sbyte[32];
            var acc = new int[8];
            for (int i = 0; i < 32; i++)
            {
                // Extremes first: -128 weights against +-127 activations are where a saturating step would fail.
                w[i] = trial < 4 ? (sbyte)(trial % 2 == 0 ? -128 : 127) : (sbyte)rng.Next(-128, 128);
                x[i] = trial < 4 ? (sbyte)(trial < 2 ? 127 : -127) : (sbyte)rng.Next(-127, 128);
            }
            for (int i = 0; i < 8; i++) acc[i] = rng.Next(-1000, 1000);
            var expected = new int[8];
            for (int lane = 0; lane < 8; lane++)
            {
                expected[lane] = acc[lane];
                for (int k = 0; k < 4; k++) expected[lane] += w[lane * 4 + k] * x[lane * 4 + k];
            }
            fixed (sbyte* pw = w, px = x) fixed (int* pa = acc)
            {
                var a = Vector256.Load(pa);
                var wv = Vector256.Load(pw);
                var xv = Vector256.Load(px);
                Assert.Equal(expected, ToArray(Int8DotKernels.DotAvx2(a, wv, xv)));
                if (AvxVnni.IsSupported) Assert.Equal(expected, ToArray(Int8DotKernels.DotVnni(a, wv, xv)));
            }
        }
    }

    [Fact]
    public void RowsMatchTheExactIntegerReference()
    {
        if (!Int8DotKernels.IsSupported) return;
        // Full blocks of four plus a row-major tail; ranges starting at a block boundary past 0, ending inside
        // a block or the tail; groups of 16, 32 and 64.
        foreach (var (rows, cols, groupSize, start, end) in new[] { (11, 48, 16, 4, 11), (14, 96, 32, 4, 13), (9, 32, 32, 0, 9), (12, 128, 64, 0, 6), (16, 256, 32, 8, 16) })
        {
            var rng = new Random(rows * 31 + cols);
            var q = new sbyte[rows * cols];
            var s = new float[rows * cols / groupSize];
            for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-128, 128);
            for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextDouble() * 0.02f;
            var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var qi = new sbyte[q.Length];
            var si = new float[s.Length];
            var xq = new sbyte[cols];
            var xs = new float[cols / groupSize];
            var sums = new int[cols / groupSize];
            var o = Enumerable.Repeat(Untouched, rows).ToArray();
            fixed (sbyte* pq = q, pqi = qi, pxq = xq) fixed (float* ps = s, psi = si, px = x, pxs = xs, po = o) fixed (int* psum = sums)
            {
                Q8Layout.Interleave(pq, ps, rows, cols, groupSize, pqi, psi);
                var m = new Matrix(pqi, psi, rows, cols, groupSize, interleaved: true);
                Int8Activations.Quantize(px, cols, groupSize, pxq, pxs, psum);
                Int8DotKernels.Rows(m, new QuantizedVector(pxq, pxs, psum, cols, groupSize), px, po, start, end);
            }
            int groups = cols / groupSize, tail = rows / 4 * 4;
            for (int r = 0; r < rows; r++)
            {
                string what = $"{rows}x{cols}/{groupSize} [{start},{end}) row {r}";
                if (r < start || r >= end)
                {
                    Assert.True(o[r] == Untouched, $"{what}: outside the range, written");
                    continue;
                }
                double expected = 0, magnitude = 0;
                for (int g = 0; g < groups; g++)
                {
                    long dot = 0;
                    double floatDot = 0;
                    for (int c = g * groupSize; c < (g + 1) * groupSize; c++)
                    {
                        dot += q[r * cols + c] * xq[c];
                        floatDot += q[r * cols + c] * (double)x[c];
                    }
                    // Rows past the last full block run the float kernel on the unquantized vector.
                    double term = r >= tail ? floatDot * s[r * groups + g] : dot * (double)s[r * groups + g] * xs[g];
                    expected += term;
                    magnitude += Math.Abs(term);
                }
                Assert.True(Math.Abs(o[r] - expected) <= 1e-5 * magnitude + 1e-6, $"{what}: {o[r]} vs {expected}");
            }
        }
    }

    [Fact]
    public void ActivationsOfTheWrongGroupSizeAreRefused()
    {
        if (!Int8DotKernels.IsSupported) return;
        var q = new sbyte[4 * 64];
        var s = new float[4 * 64 / 32];
        var xq = new sbyte[64];
        var xs = new float[4];
        var sums = new int[4];
        var o = new float[4];
        var x = new float[64];
        Assert.Throws<ArgumentException>(() =>
        {
            fixed (sbyte* pq = q, pxq = xq) fixed (float* ps = s, pxs = xs, po = o, px = x) fixed (int* psum = sums)
                Int8DotKernels.Rows(new Matrix(pq, ps, 4, 64, 32, interleaved: true), new QuantizedVector(pxq, pxs, psum, 64, 16), px, po, 0, 4);
        });
    }

    private static int[] ToArray(Vector256<int> v)
    {
        var a = new int[8];
        v.CopyTo(a);
        return a;
    }
}

/// <summary>Whole models on int8 activations: close to float32 activations, and the same at any thread count.</summary>
public sealed class Int8ActivationSessionTests
{
    private static readonly ModelConfig Shape = new() { Dim = 64, HiddenDim = 128, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 96, MaxSeqLen = 32 };

    [Fact]
    public void Int8ActivationsFollowFloatActivationsAndDoNotDependOnThreads()
    {
        using var dir = new Support.TempDir();
        RandomCheckpoint.WriteDirectory(Shape, 5, dir.Path, std: 0.1f);
        using var q8 = LlamaModel.Load(dir.Path, new ModelLoadOptions { Format = WeightFormat.Q8 });
        Assert.Equal(32, q8.Weights.GroupSize);
        using var floats = q8.CreateSession(new SessionOptions { Threads = 1, QuantizeActivations = false });
        using var one = q8.CreateSession(new SessionOptions { Threads = 1 });
        using var two = q8.CreateSession(new SessionOptions { Threads = 2 });
        double diff = 0, norm = 0, threads = 0;
        foreach (int token in new[] { 1, 7, 30, 55, 90, 2, 2, 41 })
        {
            var f = floats.Forward(token).ToArray();
            var a = one.Forward(token).ToArray();
            var b = two.Forward(token).ToArray();
            for (int i = 0; i < f.Length; i++)
            {
                diff += (a[i] - f[i]) * (double)(a[i] - f[i]);
                norm += f[i] * (double)f[i];
                threads = Math.Max(threads, Math.Abs(a[i] - b[i]));
            }
        }
        double relative = Math.Sqrt(diff / norm);
        // Int8 activations change the logits (so the integer kernels ran) by about what int8 weights do, no more.
        if (Int8DotKernels.IsSupported) Assert.InRange(relative, 1e-5, 0.05);
        Assert.True(threads <= 1e-5, $"1 and 2 threads differ by {threads}");
    }
}
