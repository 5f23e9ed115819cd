using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>Batched prefill (matrix-matrix products) computes what token-by-token decoding computes.</summary>
public sealed class PrefillTests
{
    [Theory]
    [InlineData(WeightFormat.AsStored, 1, 37)]
    [InlineData(WeightFormat.AsStored, 2, 150)] // more than one chunk
    [InlineData(WeightFormat.Q8, 2, 70)]
    public void BatchedPrefillMatchesTokenByToken(WeightFormat format, int threads, int promptLength)
    {
        // Odd sizes: rows and tokens that are not multiples of the 4x4 tile, columns not multiples of 16.
        var config = new ModelConfig { Dim = 96, HiddenDim = 136, NLayers = 2, NHeads = 6, NKvHeads = 2, VocabSize = 67, MaxSeqLen = 256, SharedClassifier = false };
        using var dir = new TempDir();
        string path = dir.File("m.bin");
        TestModel.Random(config, seed: 21).WriteLlama2c(path);
        using var model = LlamaModel.Load(path, new ModelLoadOptions { Format = format });
        var rng = new Random(5);
        int[] prompt = Enumerable.Range(0, promptLength).Select(_ => rng.Next(config.VocabSize)).ToArray();

        using var batched = model.CreateSession(new SessionOptions { Threads = threads });
        using var stepwise = model.CreateSession(new SessionOptions { Threads = threads });
        float[] a = batched.Prefill(prompt).ToArray();
        float[] b = Array.Empty<float>();
        foreach (int t in prompt) b = stepwise.Forward(t).ToArray();
        AssertClose(b, a, "after the prompt");
        Assert.Equal(stepwise.Position, batched.Position);

        // The caches must hold the same keys and values: decoding on from both gives the same logits.
        for (int i = 0; i < 5; i++)
            AssertClose(stepwise.Forward(i + 3).ToArray(), batched.Forward(i + 3).ToArray(), $"decode step {i}");
    }

    [Fact]
    public void TheBatchBuffersGrowWithTheLongestBatchInStepsOf16UpToAChunk()
    {
        var config = new ModelConfig { Dim = 32, HiddenDim = 48, NLayers = 1, NHeads = 2, NKvHeads = 1, VocabSize = 20, MaxSeqLen = 128 };
        using var dir = new TempDir();
        string path = dir.File("m.bin");
        TestModel.Random(config, seed: 3).WriteLlama2c(path);
        using var model = LlamaModel.Load(path);
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        Assert.Equal(0, session.Transformer.BatchCapacity);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(i => i % config.VocabSize).ToArray();
        foreach (var (tokens, capacity) in new[] { (5, 16), (21, 32), (3, 32), (70, 64), (9, 64) })
        {
            session.Prefill(Tokens(tokens));
            Assert.Equal(capacity, session.Transformer.BatchCapacity);
        }
    }

    [Fact]
    public void Stories260KPrefillMatchesReference()
    {
        SharedModels.Require();
        var reference = new ReferenceTransformer(TestModel.ReadLlama2c(SharedModels.Stories260K));
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        using var session = model.CreateSession(new SessionOptions { Threads = 2 });
        int[] prompt = Enumerable.Range(0, 100).Select(i => (i * 37 + 1) % 512).ToArray();
        double[] expected = [];
        foreach (int t in prompt) expected = reference.Forward(t);
        var actual = session.Prefill(prompt).ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"logit {i}: {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void PrefillPastTheContextIsRejected()
    {
        var config = new ModelConfig { Dim = 16, HiddenDim = 32, NLayers = 1, NHeads = 2, NKvHeads = 2, VocabSize = 10, MaxSeqLen = 8 };
        using var dir = new TempDir();
        TestModel.Random(config, 1).WriteLlama2c(dir.File("m.bin"));
        using var model = LlamaModel.Load(dir.File("m.bin"));
        using var session = model.CreateSession();
        Assert.Throws<ContextFullException>(() => session.Prefill(new int[9]));
        session.Prefill(new int[8]);
        Assert.Equal(8, session.Position);
    }

    private static void AssertClose(float[] expected, float[] actual, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"{where}, logit {i}: batched {actual[i]} vs token by token {expected[i]}");
    }
}
