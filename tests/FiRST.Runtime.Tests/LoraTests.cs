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
        var adapted = TestModel.ReadLlama2c(path);
        var targets = new[] { adapted.Wq, adapted.Wk, adapted.Wv, adapted.Wo, adapted.W1, adapted.W2, adapted.W3 };
        for (int l = 0; l < Shape.NLayers; l++)
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
