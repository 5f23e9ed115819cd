using FiRST.Runtime.Diagnostics;
using FiRST.Runtime.Loading;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

public sealed class QuantizationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(64, 32, 1)]
    [InlineData(96, 16, 2)]
    public unsafe void InterleavedLayoutGivesTheSameProductsAsRowMajor(int cols, int groupSize, int seed)
    {
        int rows = 11; // two full blocks of four and three row-major rows
        var rng = new Random(seed);
        var q = new sbyte[rows * cols];
        var s = new float[rows * cols / groupSize];
        var x = new float[cols];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
        for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextDouble();
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.5f;
        var qi = new sbyte[q.Length];
        var si = new float[s.Length];
        var expected = new float[rows];
        var actual = new float[rows];
        var row = new float[cols];
        fixed (sbyte* pq = q, pqi = qi) fixed (float* ps = s, psi = si, px = x, pe = expected, pa = actual)
        {
            Q8Layout.Interleave(pq, ps, rows, cols, groupSize, pqi, psi);
            var plain = new Matrix(pq, ps, rows, cols, groupSize);
            var interleaved = new Matrix(pqi, psi, rows, cols, groupSize, interleaved: true);
            Kernels.Q8Kernels.Rows(plain, px, pe, 0, rows);
            Kernels.Q8Kernels.Rows(interleaved, px, pa, 0, rows);
            for (int r = 0; r < rows; r++)
            {
                Assert.True(Math.Abs(expected[r] - actual[r]) < 1e-3, $"row {r}: {actual[r]} vs {expected[r]}");
                interleaved.CopyRow(r, row);
                for (int c = 0; c < cols; c++) Assert.Equal(q[r * cols + c] * s[(r * cols + c) / groupSize], row[c]);
            }
        }
    }

    [Fact]
    public void SavedQ8ModelLoadsBackWithTheSameLogits()
    {
        using var dir = new TempDir();
        var config = new ModelConfig { Dim = 64, HiddenDim = 96, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 50, MaxSeqLen = 32, SharedClassifier = false };
        TestModel.Random(config, 8).WriteLlama2c(dir.File("f32.bin"));
        using var quantized = LlamaModel.Load(dir.File("f32.bin"), new ModelLoadOptions { Format = WeightFormat.Q8 });
        Llama2cWriter.WriteQ8(quantized, dir.File("q8.bin"));
        using var loaded = LlamaModel.Load(dir.File("q8.bin"));
        Assert.True(loaded.Weights.IsQuantized);
        Assert.Equal(32, loaded.Weights.GroupSize);
        Assert.Equal(quantized.Config, loaded.Config);
        // int8 values plus one float per 32 of them, against 4 bytes per float32 weight.
        Assert.True(new FileInfo(dir.File("q8.bin")).Length < new FileInfo(dir.File("f32.bin")).Length / 3);
        using var a = quantized.CreateSession(new SessionOptions { Threads = 1 });
        using var b = loaded.CreateSession(new SessionOptions { Threads = 1 });
        foreach (int t in new[] { 1, 7, 49, 3 })
            Assert.Equal(a.Forward(t).ToArray(), b.Forward(t).ToArray());
    }

    /// <summary>
    /// The quality report counts the float32 continuation's tokens as a separate greedy decode sees them, and its
    /// random-context agreement is 1 for a model against itself and below 1 for 4-bit weights on stories260K.
    /// </summary>
    [Fact]
    public void QualityReportCountsTheContinuationAndComparesRandomContexts()
    {
        SharedModels.Require();
        using var fp32 = LlamaModel.Load(SharedModels.Stories260K);
        using var q4 = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q4 });
        var self = QuantizationQuality.Compare(fp32, fp32, steps: 120, randomContextSteps: 300);
        Assert.Equal(300, self.RandomContextSteps);
        Assert.Equal(1.0, self.RandomContextAgreement);

        using var session = fp32.CreateSession();
        var tokens = Greedy.Decode(session, [1], 120);
        Assert.Equal(120, tokens.Count);
        Assert.Equal(tokens.Distinct().Count(), self.DistinctTokens);
        Assert.Equal(tokens.Zip(tokens.Skip(1)).Count(p => p.First != p.Second), self.TokenChanges);

        var report = QuantizationQuality.Compare(fp32, q4, steps: 120, randomContextSteps: 300);
        output.WriteLine(report.ToString());
        Assert.InRange(report.RandomContextAgreement, 0.01, 0.99);
        Assert.Equal(self.DistinctTokens, report.DistinctTokens);
    }

    [Fact]
    public void Q8FollowsFp32OnStories260K()
    {
        SharedModels.Require();
        using var fp32 = LlamaModel.Load(SharedModels.Stories260K);
        using var q8 = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q8 });
        Assert.True(q8.Weights.IsQuantized);
        var report = QuantizationQuality.Compare(fp32, q8, steps: 200);
        output.WriteLine(report.ToString());
        Assert.True(report.TeacherForcedAgreement >= 0.95, report.ToString());
        Assert.True(report.LogitsRmsError < 0.05 * report.LogitsRms, report.ToString());
    }

    [Fact]
    public void Q8RuntimeMatchesReferenceOnDequantizedWeights()
    {
        // The int8 path must compute exactly what float32 math on the dequantized weights gives: any
        // difference beyond rounding is a kernel or layout bug, not quantization error.
        SharedModels.Require();
        var model = TestModel.ReadLlama2c(SharedModels.Stories260K);
        int gs = Quantizer.GroupSizeFor(model.Config);
        float[] Dq(float[] w)
        {
            var r = (float[])w.Clone();
            unsafe
            {
                var q = new sbyte[w.Length];
                var s = new float[w.Length / gs];
                fixed (float* pw = w) fixed (sbyte* pq = q) fixed (float* ps = s) Quantizer.Quantize(pw, w.Length, gs, pq, ps);
                for (int i = 0; i < r.Length; i++) r[i] = q[i] * s[i / gs];
            }
            return r;
        }
        var emb = Dq(model.Embedding);
        var dequantized = new TestModel
        {
            Config = model.Config, Embedding = emb, RmsAtt = model.RmsAtt, RmsFfn = model.RmsFfn, RmsFinal = model.RmsFinal,
            Wq = model.Wq.Select(Dq).ToArray(), Wk = model.Wk.Select(Dq).ToArray(), Wv = model.Wv.Select(Dq).ToArray(),
            Wo = model.Wo.Select(Dq).ToArray(), W1 = model.W1.Select(Dq).ToArray(), W2 = model.W2.Select(Dq).ToArray(),
            W3 = model.W3.Select(Dq).ToArray(), Classifier = emb,
        };
        using var q8 = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q8 });
        using var session = q8.CreateSession(new SessionOptions { Threads = 1 });
        var reference = new ReferenceTransformer(dequantized);
        var exact = new ReferenceTransformer(model);
        double quantError = 0;
        foreach (int token in new[] { 1, 100, 200, 300, 400, 12, 7, 480 })
        {
            var expected = reference.Forward(token);
            AssertClassifierChangeWithinHalfAStep(model, gs, reference.Hidden, expected, token);
            var fp = exact.Forward(token);
            var actual = session.Forward(token);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"token {token}, logit {i}: q8 runtime {actual[i]} vs dequantized reference {expected[i]}");
                quantError = Math.Max(quantError, Math.Abs(fp[i] - expected[i]));
            }
        }
        output.WriteLine($"group size {gs}; largest logit change from quantization alone: {quantError:F4}");
        // The comparison above tells the int8 path from float32 math only if quantizing moves the logits by
        // much more than its 1e-4 tolerance; otherwise a runtime that ignored the quantized weights would pass.
        Assert.True(quantError > 100 * 1e-4, $"quantization changed the logits by only {quantError}: the test cannot tell q8 from fp32");
    }

    /// <summary>
    /// The last stage alone, where the bound is exact: the dequantized reference's logits are the quantized
    /// classifier applied to its final normalized hidden state xn, so each differs from the float32 classifier
    /// applied to the same xn by at most Σ_c |xn_c| · step_c / 2, with step = max|w| / 127 over the weight's group.
    /// </summary>
    private static void AssertClassifierChangeWithinHalfAStep(TestModel model, int gs, double[] hidden, double[] dequantizedLogits, int token)
    {
        int dim = model.Config.Dim;
        double ss = hidden.Sum(v => v * v);
        double scale = 1 / Math.Sqrt(ss / dim + model.Config.NormEps);
        var xn = hidden.Select((v, i) => model.RmsFinal[i] * v * scale).ToArray();
        Assert.True(model.Config.SharedClassifier); // stories260K: the classifier is the embedding
        float[] w = model.Embedding;
        for (int row = 0; row < model.Config.VocabSize; row++)
        {
            double fp = 0, bound = 0;
            for (int c = 0; c < dim; c++)
            {
                long at = (long)row * dim + c;
                long group = at / gs * gs;
                double max = 0;
                for (long k = group; k < group + gs; k++) max = Math.Max(max, Math.Abs(w[k]));
                fp += w[at] * xn[c];
                bound += Math.Abs(xn[c]) * max / 127 / 2;
            }
            Assert.True(Math.Abs(dequantizedLogits[row] - fp) <= bound * (1 + 1e-6) + 1e-9,
                $"token {token}, logit {row}: quantized classifier moved it by {Math.Abs(dequantizedLogits[row] - fp)}, more than half a step ({bound})");
        }
    }

    [Fact]
    public unsafe void QuantizeRoundTripsWithinHalfAStep()
    {
        var rng = new Random(3);
        float[] w = Enumerable.Range(0, 256).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) + 1)).ToArray();
        w[40] = 0; w[41] = -7.5f;
        var q = new sbyte[256];
        var s = new float[8];
        fixed (float* pw = w) fixed (sbyte* pq = q) fixed (float* ps = s)
            Quantizer.Quantize(pw, 256, 32, pq, ps);
        for (int g = 0; g < 8; g++)
        {
            float max = w.Skip(g * 32).Take(32).Max(Math.Abs);
            Assert.Equal(max / 127f, s[g], 6);
            for (int i = g * 32; i < g * 32 + 32; i++)
                Assert.True(Math.Abs(q[i] * s[g] - w[i]) <= s[g] / 2 + 1e-6, $"element {i}: {w[i]} -> {q[i]} x {s[g]}");
        }
        Assert.Equal(-127, q[41]);
    }

    [Theory]
    [InlineData(64, 32)]  // AVX-512 / AVX2 four-row path
    [InlineData(36, 4)]   // scalar path (group smaller than a vector)
    [InlineData(96, 8)]   // AVX2 path
    public unsafe void Q8KernelMatchesDequantizedDot(int cols, int groupSize)
    {
        int rows = 7; // four-row blocks plus a remainder
        var rng = new Random(cols);
        var q = new sbyte[rows * cols];
        var s = new float[rows * cols / groupSize];
        var x = new float[cols];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
        for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextDouble() * 0.01f;
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var o = new float[rows];
        fixed (sbyte* pq = q) fixed (float* ps = s) fixed (float* px = x) fixed (float* po = o)
            Kernels.Q8Kernels.Rows(pq, ps, cols, groupSize, px, po, 0, rows);
        for (int r = 0; r < rows; r++)
        {
            double expected = 0;
            for (int i = 0; i < cols; i++) expected += q[r * cols + i] * (double)s[(r * cols + i) / groupSize] * x[i];
            Assert.True(Math.Abs(expected - o[r]) < 1e-4, $"row {r}: {o[r]} vs {expected}");
        }
    }

    /// <summary>Random int8 rows with per-group scales, and a vector; the dot products in double as reference.</summary>
    private static (sbyte[] Q, float[] S, float[] X, double[] Expected, double[] Magnitude) Q8Case(int rows, int cols, int groupSize, int seed)
    {
        var rng = new Random(seed);
        var q = new sbyte[rows * cols];
        var s = new float[rows * cols / groupSize];
        var x = new float[cols];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
        for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextDouble() * 0.01f;
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var expected = new double[rows];
        var magnitude = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double term = q[r * cols + c] * (double)s[(r * cols + c) / groupSize] * x[c];
                expected[r] += term;
                magnitude[r] += Math.Abs(term);
            }
        return (q, s, x, expected, magnitude);
    }

    /// <summary>
    /// Rows [start, end) match the reference to float32 rounding of their sum (a relative 1e-5 of the sum of
    /// magnitudes covers the products and the float additions of a few hundred terms), and rows outside the
    /// range are not written.
    /// </summary>
    private static void AssertRange(float[] o, double[] expected, double[] magnitude, int start, int end, string kernel)
    {
        for (int r = 0; r < o.Length; r++)
        {
            if (r < start || r >= end)
                Assert.True(float.IsNaN(o[r]), $"{kernel}: row {r} is outside [{start}, {end}) but was written");
            else
                Assert.True(Math.Abs(expected[r] - o[r]) <= 1e-5 * magnitude[r] + 1e-7, $"{kernel}: row {r} of [{start}, {end}): {o[r]} vs {expected[r]}");
        }
    }

    [Theory]
    [InlineData(11, 40, 8, 0, 11)]   // 256-bit vectors in groups of 8; 512-bit falls back to scalar
    [InlineData(11, 40, 8, 3, 10)]   // a start that is no multiple of four, an end before the last row
    [InlineData(13, 96, 32, 5, 13)]
    [InlineData(13, 96, 32, 1, 6)]   // fewer than four rows after an odd start
    [InlineData(9, 36, 4, 2, 9)]     // groups smaller than any vector: scalar
    [InlineData(7, 48, 16, 6, 7)]    // a single row
    public unsafe void RowMajorQ8KernelsMatchAScalarReferenceAtAnyRowOffset(int rows, int cols, int groupSize, int start, int end)
    {
        var (q, s, x, expected, magnitude) = Q8Case(rows, cols, groupSize, seed: rows * 1000 + cols + start);
        foreach (var width in new[] { 256, 512 })
        {
            var o = Enumerable.Repeat(float.NaN, rows).ToArray();
            fixed (sbyte* pq = q) fixed (float* ps = s, px = x, po = o)
            {
                if (width == 256) Kernels.Q8Kernels.RowMajor<Kernels.V256, System.Runtime.Intrinsics.Vector256<float>>(pq, ps, cols, groupSize, px, po, start, end);
                else Kernels.Q8Kernels.RowMajor<Kernels.V512, System.Runtime.Intrinsics.Vector512<float>>(pq, ps, cols, groupSize, px, po, start, end);
            }
            AssertRange(o, expected, magnitude, start, end, $"row-major {width}-bit");
        }
    }

    [Theory]
    [InlineData(11, 48, 16, 4, 11)]  // from the second block: one full block, then three row-major rows
    [InlineData(13, 96, 32, 8, 13)]  // the last full block plus the single trailing row
    [InlineData(13, 96, 32, 4, 9)]   // an end one row past a block boundary (row 8 is in the last full block)
    [InlineData(15, 64, 16, 12, 14)] // only remainder rows, not reaching the end
    [InlineData(12, 80, 16, 4, 8)]   // one interior block of a matrix with no remainder
    public unsafe void InterleavedQ8KernelsMatchAScalarReferenceAtBlockOffsets(int rows, int cols, int groupSize, int start, int end)
    {
        Assert.True(Q8Layout.CanInterleave(cols, groupSize));
        var (q, s, x, expected, magnitude) = Q8Case(rows, cols, groupSize, seed: rows * 1000 + cols + start);
        var qi = new sbyte[q.Length];
        var si = new float[s.Length];
        foreach (var width in new[] { 256, 512 })
        {
            var o = Enumerable.Repeat(float.NaN, rows).ToArray();
            fixed (sbyte* pq = q, pqi = qi) fixed (float* ps = s, psi = si, px = x, po = o)
            {
                Q8Layout.Interleave(pq, ps, rows, cols, groupSize, pqi, psi);
                var w = new Matrix(pqi, psi, rows, cols, groupSize, interleaved: true);
                if (width == 256) Kernels.Q8Kernels.Interleaved<Kernels.V256, System.Runtime.Intrinsics.Vector256<float>>(w, px, po, start, end);
                else Kernels.Q8Kernels.Interleaved<Kernels.V512, System.Runtime.Intrinsics.Vector512<float>>(w, px, po, start, end);
            }
            AssertRange(o, expected, magnitude, start, end, $"interleaved {width}-bit");
        }
    }
}
