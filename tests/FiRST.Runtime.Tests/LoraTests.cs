using FiRST.Runtime.Adapters;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>LoRA adapters: the file format, and merging <c>W + scale · B · A</c> at load.</summary>
public sealed class LoraTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly ModelConfig Shape = new() { Dim = 32, HiddenDim = 48, NLayers = 3, NHeads = 4, NKvHeads = 2, VocabSize = 40, MaxSeqLen = 24 };

    internal static LoraAdapter RandomAdapter(ModelConfig c, int rank, int seed, float scale = 0.5f)
    {
        var rng = new Random(seed);
        (int R, int C)[] shapes = [(c.Dim, c.Dim), (c.KvDim, c.Dim), (c.KvDim, c.Dim), (c.Dim, c.Dim), (c.HiddenDim, c.Dim), (c.Dim, c.HiddenDim), (c.HiddenDim, c.Dim)];
        float[] Fill(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
        var a = new List<float[]>();
        var b = new List<float[]>();
        for (int l = 0; l < c.NLayers; l++)
            foreach (var (r, k) in shapes)
            {
                a.Add(Fill(rank * k));
                b.Add(Fill(r * rank));
            }
        return new LoraAdapter(c.NLayers, c.Dim, c.HiddenDim, c.KvDim, rank, scale, a, b);
    }

    [Fact]
    public void MergedModelComputesWhatTheAdaptedWeightsCompute()
    {
        var m = TestModel.Random(Shape, seed: 3);
        string path = _dir.File("m.bin");
        m.WriteLlama2c(path);
        var adapter = RandomAdapter(Shape, rank: 3, seed: 4);

        // The reference applies W += scale * B A by hand, in double precision, to a copy of the weights.
        var adapted = MergeByHand(path, adapter);
        var reference = new ReferenceTransformer(adapted);
        var plain = new ReferenceTransformer(m);

        using var model = LlamaModel.Load(path, new ModelLoadOptions { Adapter = adapter });
        using var session = model.CreateSession(new SessionOptions { Threads = 2 });
        double worst = 0, change = 0;
        for (int token = 1; token < 12; token++)
        {
            var expected = reference.Forward(token);
            var before = plain.Forward(token);
            var actual = session.Forward(token).ToArray();
            for (int i = 0; i < actual.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
                change = Math.Max(change, Math.Abs(expected[i] - before[i]));
            }
        }
        Assert.True(worst <= 1e-4, $"max abs diff {worst}");
        Assert.True(change > 1e-2, "the adapter should change the logits, or the test shows nothing");

        // The stored file is untouched: loading without the adapter gives the plain model (the adapter moves
        // the logits by more than 1e-2 over the tokens above, so a merge written back would exceed this tolerance).
        using var again = LlamaModel.Load(path);
        using var s2 = again.CreateSession(new SessionOptions { Threads = 1 });
        var plainExpected = new ReferenceTransformer(m).Forward(1);
        var plainActual = s2.Forward(1).ToArray();
        Assert.Equal(plainExpected.Length, plainActual.Length);
        // The same tolerance as the merged comparison above: float32 runtime against the double reference.
        for (int i = 0; i < plainActual.Length; i++)
            Assert.True(Math.Abs(plainExpected[i] - plainActual[i]) <= 1e-4, $"logit {i}: {plainActual[i]} vs reference {plainExpected[i]}");
    }

    /// <summary>The model in <paramref name="path"/> with <c>W += scale · B · A</c> applied in double precision.</summary>
    private static TestModel MergeByHand(string path, LoraAdapter adapter)
    {
        var adapted = TestModel.ReadLlama2c(path);
        var targets = new[] { adapted.Wq, adapted.Wk, adapted.Wv, adapted.Wo, adapted.W1, adapted.W2, adapted.W3 };
        for (int l = 0; l < adapted.Config.NLayers; l++)
            for (int t = 0; t < targets.Length; t++)
            {
                var (rows, cols) = adapter.Shape(t);
                var a = adapter.A(l, t).ToArray();
                var b = adapter.B(l, t).ToArray();
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                    {
                        double sum = 0;
                        for (int k = 0; k < adapter.Rank; k++) sum += (double)b[r * adapter.Rank + k] * a[k * cols + c];
                        targets[t][l][r * cols + c] += (float)(adapter.Scale * sum);
                    }
            }
        return adapted;
    }

    /// <summary>Copies a loaded float32 matrix out of the runtime.</summary>
    private static unsafe float[] Floats(Loading.Matrix m)
    {
        Assert.False(m.IsQuantized);
        return new ReadOnlySpan<float>(m.Data, checked((int)m.Length)).ToArray();
    }

    /// <summary>Quantizes in groups of <paramref name="gs"/> and back, as the runtime's Q8 load does.</summary>
    private static unsafe float[] Dequantized(float[] w, int gs)
    {
        var q = new sbyte[w.Length];
        var s = new float[w.Length / gs];
        fixed (float* pw = w) fixed (sbyte* pq = q) fixed (float* ps = s) Loading.Quantizer.Quantize(pw, w.Length, gs, pq, ps);
        return q.Select((v, i) => v * s[i / gs]).ToArray();
    }

    [Fact]
    public void MergedThenQuantizedModelComputesTheQuantizedMergedWeights()
    {
        var m = TestModel.Random(Shape, seed: 3);
        string path = _dir.File("m.bin");
        m.WriteLlama2c(path);
        var adapter = RandomAdapter(Shape, rank: 3, seed: 4);

        // 1. The runtime's float32 merge is the hand merge (to float rounding).
        var byHand = MergeByHand(path, adapter);
        using var mergedF32 = LlamaModel.Load(path, new ModelLoadOptions { Adapter = adapter });
        var layers = Enumerable.Range(0, Shape.NLayers).Select(l => mergedF32.Weights.Layers[l]!).ToArray();
        var runtimeMerge = new TestModel
        {
            Config = Shape, Embedding = m.Embedding, RmsAtt = m.RmsAtt, RmsFfn = m.RmsFfn, RmsFinal = m.RmsFinal, Classifier = m.Classifier,
            Wq = layers.Select(w => Floats(w.Wq)).ToArray(), Wk = layers.Select(w => Floats(w.Wk)).ToArray(),
            Wv = layers.Select(w => Floats(w.Wv)).ToArray(), Wo = layers.Select(w => Floats(w.Wo)).ToArray(),
            W1 = layers.Select(w => Floats(w.W1)).ToArray(), W2 = layers.Select(w => Floats(w.W2)).ToArray(),
            W3 = layers.Select(w => Floats(w.W3)).ToArray(),
        };
        float[][][] mine = [byHand.Wq, byHand.Wk, byHand.Wv, byHand.Wo, byHand.W1, byHand.W2, byHand.W3];
        float[][][] theirs = [runtimeMerge.Wq, runtimeMerge.Wk, runtimeMerge.Wv, runtimeMerge.Wo, runtimeMerge.W1, runtimeMerge.W2, runtimeMerge.W3];
        for (int t = 0; t < mine.Length; t++)
            for (int l = 0; l < Shape.NLayers; l++)
                for (int i = 0; i < mine[t][l].Length; i++)
                    Assert.True(Math.Abs(mine[t][l][i] - theirs[t][l][i]) <= 1e-6, $"target {t}, layer {l}, weight {i}: runtime merge {theirs[t][l][i]} vs {mine[t][l][i]}");

        // 2. The reference quantizes those merged weights in the runtime's groups and computes in double. The
        //    merge is quantized as a whole, so its logits are those of the dequantized merged weights, to the
        //    float32 rounding of the kernels.
        int gs = Loading.Quantizer.GroupSizeFor(Shape);
        float[] embedding = Dequantized(m.Embedding, gs);
        var quantizedMerge = new TestModel
        {
            Config = Shape, Embedding = embedding, RmsAtt = m.RmsAtt, RmsFfn = m.RmsFfn, RmsFinal = m.RmsFinal,
            Classifier = Shape.SharedClassifier ? embedding : Dequantized(m.Classifier, gs),
            Wq = runtimeMerge.Wq.Select(w => Dequantized(w, gs)).ToArray(), Wk = runtimeMerge.Wk.Select(w => Dequantized(w, gs)).ToArray(),
            Wv = runtimeMerge.Wv.Select(w => Dequantized(w, gs)).ToArray(), Wo = runtimeMerge.Wo.Select(w => Dequantized(w, gs)).ToArray(),
            W1 = runtimeMerge.W1.Select(w => Dequantized(w, gs)).ToArray(), W2 = runtimeMerge.W2.Select(w => Dequantized(w, gs)).ToArray(),
            W3 = runtimeMerge.W3.Select(w => Dequantized(w, gs)).ToArray(),
        };
        var reference = new ReferenceTransformer(quantizedMerge);
        var floatMerged = new ReferenceTransformer(byHand);
        var quantizedPlain = new ReferenceTransformer(new TestModel
        {
            Config = Shape, Embedding = embedding, RmsAtt = m.RmsAtt, RmsFfn = m.RmsFfn, RmsFinal = m.RmsFinal, Classifier = quantizedMerge.Classifier,
            Wq = m.Wq.Select(w => Dequantized(w, gs)).ToArray(), Wk = m.Wk.Select(w => Dequantized(w, gs)).ToArray(),
            Wv = m.Wv.Select(w => Dequantized(w, gs)).ToArray(), Wo = m.Wo.Select(w => Dequantized(w, gs)).ToArray(),
            W1 = m.W1.Select(w => Dequantized(w, gs)).ToArray(), W2 = m.W2.Select(w => Dequantized(w, gs)).ToArray(),
            W3 = m.W3.Select(w => Dequantized(w, gs)).ToArray(),
        });

        using var q8 = LlamaModel.Load(path, new ModelLoadOptions { Adapter = adapter, Format = WeightFormat.Q8 });
        Assert.True(q8.Weights.IsQuantized);
        Assert.Equal(gs, q8.Weights.GroupSize);
        // Float32 activations: the comparison is with float math on the dequantized merged weights.
        using var session = q8.CreateSession(new SessionOptions { Threads = 2, QuantizeActivations = false });
        double worst = 0, quantization = 0, adapterEffect = 0;
        for (int token = 1; token < 12; token++)
        {
            var expected = reference.Forward(token);
            var unquantized = floatMerged.Forward(token);
            var withoutAdapter = quantizedPlain.Forward(token);
            var actual = session.Forward(token).ToArray();
            for (int i = 0; i < actual.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
                quantization = Math.Max(quantization, Math.Abs(expected[i] - unquantized[i]));
                adapterEffect = Math.Max(adapterEffect, Math.Abs(expected[i] - withoutAdapter[i]));
            }
        }
        Assert.True(worst <= 1e-4, $"max |q8 merged runtime - quantized merged reference| = {worst}");
        // The check above tells "merged, then quantized" from the alternatives only if quantizing moves the
        // logits well past its tolerance (else float32 weights would pass), and the adapter survives
        // quantization (else dropping it would pass).
        Assert.True(quantization > 10 * 1e-4, $"quantization moved the logits by only {quantization}");
        Assert.True(adapterEffect > 1e-2, $"the adapter moved the quantized model's logits by only {adapterEffect}");
    }

    [Fact]
    public void AdaptersRoundTripAndBadOnesAreRefused()
    {
        var adapter = RandomAdapter(Shape, rank: 2, seed: 5);
        string file = _dir.File("a.lora.bin");
        adapter.Save(file);
        var loaded = LoraAdapter.Load(file);
        Assert.Equal((3, 32, 48, 16, 2, 0.5f), (loaded.Layers, loaded.Dim, loaded.HiddenDim, loaded.KvDim, loaded.Rank, loaded.Scale));
        for (int l = 0; l < 3; l++)
            for (int t = 0; t < 7; t++)
                Assert.True(adapter.A(l, t).SequenceEqual(loaded.A(l, t)) && adapter.B(l, t).SequenceEqual(loaded.B(l, t)));

        byte[] bytes = File.ReadAllBytes(file);
        void Bad(byte[] content, string expected)
        {
            File.WriteAllBytes(file, content);
            var e = Assert.Throws<ModelLoadException>(() => LoraAdapter.Load(file));
            Assert.Contains(file, e.Message);
            Assert.Contains(expected, e.Message);
        }
        Bad(bytes[..^4], "take exactly");
        Bad([(byte)'x', .. bytes[1..]], "not a FiRST adapter file");
        var nan = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(nan.AsSpan(36 + 8), float.NaN);
        Bad(nan, "NaN or infinite");
        var rank0 = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(rank0.AsSpan(28), 0);
        Bad(rank0, "rank: 0 is outside");

        // An adapter for another shape, or a quantized model, is a clear load error.
        string modelPath = _dir.File("m.bin");
        TestModel.Random(Shape with { HiddenDim = 40 }, seed: 1).WriteLlama2c(modelPath);
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(modelPath, new ModelLoadOptions { Adapter = adapter }));
        Assert.Contains("the adapter is for 3 layers, dim 32, hidden 48", e.Message);
        string q8 = _dir.File("q8.bin");
        TestModel.Random(Shape, seed: 1).WriteLlama2c(modelPath);
        using (var m = LlamaModel.Load(modelPath, new ModelLoadOptions { Format = WeightFormat.Q8 }))
            Loading.Llama2cWriter.WriteQ8(m, q8);
        Assert.Contains("merges into float32 weights", Assert.Throws<ModelLoadException>(() => LlamaModel.Load(q8, new ModelLoadOptions { Adapter = adapter })).Message);
        // Merging then quantizing works.
        using var merged = LlamaModel.Load(modelPath, new ModelLoadOptions { Adapter = adapter, Format = WeightFormat.Q8 });
        Assert.True(merged.Weights.IsQuantized);
    }
}
