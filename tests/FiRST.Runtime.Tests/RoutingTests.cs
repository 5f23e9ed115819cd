using FiRST.Runtime.Generation;
using FiRST.Runtime.Inference;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>FiRST routing at prefill: pooled router outputs, the mask they imply, KV only for kept layers.</summary>
public sealed class RoutingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly ModelConfig Shape = new() { Dim = 48, HiddenDim = 96, NLayers = 6, NHeads = 4, NKvHeads = 2, VocabSize = 61, MaxSeqLen = 160 };

    private (TestModel Reference, string Path) RandomModel(int seed)
    {
        var m = TestModel.Random(Shape, seed);
        string path = _dir.File($"m{seed}.bin");
        m.WriteLlama2c(path);
        return (m, path);
    }

    /// <summary>Routers whose outputs depend on the hidden state, with biases that push some layers each way.</summary>
    private static RouterSet RandomRouters(int layers, int dim, int seed, float scale = 0.25f)
    {
        var rng = new Random(seed);
        var w = new float[layers * dim];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        var b = Enumerable.Range(0, layers).Select(l => l % 2 == 0 ? 0.8f : -0.8f).ToArray();
        return new RouterSet(layers, dim, w, b);
    }

    /// <summary>
    /// The decision computed the slow way: layer l's inputs come from a double-precision reference that runs
    /// the layers already kept before l over the whole prompt, token by token.
    /// </summary>
    private static (bool[] Kept, double[] P) ReferenceRouting(TestModel m, RouterSet routers, int[] prompt, float threshold)
    {
        int layers = m.Config.NLayers, dim = m.Config.Dim;
        var kept = new bool[layers];
        var p = new double[layers];
        for (int l = 0; l < layers; l++)
        {
            var before = new bool[layers];
            for (int j = 0; j < l; j++) before[j] = kept[j];
            var reference = new ReferenceTransformer(m, before);
            double sum = 0;
            foreach (int token in prompt)
            {
                reference.Forward(token);
                var h = reference.Hidden;
                double ms = h.Sum(v => v * v) / dim, z = routers.Bias(l);
                var w = routers.Weights(l);
                for (int i = 0; i < dim; i++) z += w[i] * h[i] / Math.Sqrt(ms + m.Config.NormEps);
                sum += 1 / (1 + Math.Exp(-z));
            }
            p[l] = sum / prompt.Length;
            kept[l] = p[l] >= threshold;
        }
        return (kept, p);
    }

    [Theory]
    [InlineData(1, 9)]     // one token: decode's first step routes too
    [InlineData(2, 40)]    // one prefill chunk
    [InlineData(3, 150)]   // three chunks: the decision waits for the whole prompt
    public void RoutedPrefillMatchesTheReferenceDecisionAndLogits(int seed, int promptLength)
    {
        var (m, path) = RandomModel(seed);
        var routers = RandomRouters(Shape.NLayers, Shape.Dim, seed);
        var rng = new Random(seed);
        int[] prompt = Enumerable.Range(0, promptLength).Select(_ => rng.Next(Shape.VocabSize)).ToArray();
        var (kept, p) = ReferenceRouting(m, routers, prompt, 0.5f);

        using var model = LlamaModel.Load(path);
        using var session = model.CreateSession(new SessionOptions { Threads = 2, Routers = routers });
        Assert.Null(session.Routing);
        var logits = session.Prefill(prompt).ToArray();
        var decision = session.Routing!;
        for (int l = 0; l < Shape.NLayers; l++)
        {
            Assert.True(Math.Abs(decision.Probabilities[l] - p[l]) < 1e-4, $"layer {l}: p {decision.Probabilities[l]} vs reference {p[l]}");
            // A mean within rounding of the threshold could fall either way; these seeds keep clear of it.
            Assert.True(Math.Abs(p[l] - 0.5) > 1e-3, $"layer {l}: p {p[l]} is too close to the threshold for the test");
            Assert.Equal(kept[l], decision.Mask.IsKept(l));
        }
        Assert.Equal(decision.Mask, session.Mask);
        Assert.InRange(decision.Mask.KeptCount, 1, Shape.NLayers - 1); // the test routers keep some and skip some

        // Logits of the prompt and of decoded tokens are those of a reference that skips the same layers.
        var reference = new ReferenceTransformer(m, kept);
        double[] expected = [];
        foreach (int t in prompt) expected = reference.Forward(t);
        AssertClose(expected, logits);
        for (int step = 0; step < 5; step++)
        {
            int next = rng.Next(Shape.VocabSize);
            AssertClose(reference.Forward(next), session.Forward(next).ToArray());
        }
    }

    [Fact]
    public void SkippedLayersNeverGetKvStorage()
    {
        var (_, path) = RandomModel(4);
        var bias = new[] { 3f, -3f, 3f, -3f, -3f, 3f }; // p = 0.95 or 0.05 whatever the input
        var routers = new RouterSet(Shape.NLayers, Shape.Dim, new float[Shape.NLayers * Shape.Dim], bias);
        using var model = LlamaModel.Load(path);
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers });
        Assert.Equal(0, session.KvBytes);
        session.Prefill([1, 2, 3, 4]);
        Assert.Equal("101001", session.Mask.ToString());
        for (int l = 0; l < Shape.NLayers; l++) Assert.Equal(bias[l] > 0, session.Cache.HasLayer(l));
        Assert.Equal(3L * 2 * Shape.KvDim * Shape.MaxSeqLen * sizeof(float), session.KvBytes);
        foreach (var (prob, b) in session.Routing!.Probabilities.Zip(bias))
            Assert.Equal(1 / (1 + Math.Exp(-b)), prob, 5);
        Assert.Equal([1, 3, 4], session.Routing.SkippedLayers);
    }

    [Fact]
    public void ResetRoutesTheNextPromptAfreshAndReleasesLayersItSkips()
    {
        var (_, path) = RandomModel(5);
        // Layer 0's router reads the token: it keeps layer 1 only for prompts made of token 7.
        var w = new float[Shape.NLayers * Shape.Dim];
        var bias = new float[Shape.NLayers];
        using var model = LlamaModel.Load(path);
        var embedding7 = new float[Shape.Dim];
        model.Weights.TokenEmbedding.CopyRow(7, embedding7);
        float norm = MathF.Sqrt(embedding7.Sum(v => v * v) / Shape.Dim);
        for (int i = 0; i < Shape.Dim; i++) w[i] = embedding7[i] / norm * 4f / Shape.Dim;
        bias[0] = -2f;
        for (int l = 1; l < Shape.NLayers; l++) bias[l] = 3f;
        var routers = new RouterSet(Shape.NLayers, Shape.Dim, w, bias);
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers });

        session.Prefill([7, 7, 7]);
        Assert.True(session.Mask.IsKept(0), session.Routing!.ToString());
        long withLayer0 = session.KvBytes;
        session.Reset();
        Assert.Null(session.Routing);
        session.Prefill([3, 9, 11]);
        Assert.False(session.Mask.IsKept(0), session.Routing!.ToString());
        Assert.False(session.Cache.HasLayer(0));
        Assert.True(session.KvBytes < withLayer0);
    }

    [Fact]
    public void GenerationStatsCarryTheDecisionAndTheDispatcherPicksTheCompiledPath()
    {
        var (_, path) = RandomModel(6);
        var routers = new RouterSet(Shape.NLayers, Shape.Dim, new float[Shape.NLayers * Shape.Dim], [3f, 3f, -3f, 3f, -3f, -3f]);
        using var model = LlamaModel.Load(path);
        var compiled = new CountingPath(LayerMask.FromKept(Shape.NLayers, [0, 1, 3]));
        var table = new DecodePathTable([compiled, new CountingPath(LayerMask.FromKept(Shape.NLayers, [0]))]);
        var tokenizerFree = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = table });
        tokenizerFree.Prefill([5, 6]);
        Assert.Same(compiled, tokenizerFree.DecodePath);
        tokenizerFree.Forward(8);
        tokenizerFree.Forward(9);
        Assert.Equal(2, compiled.Steps);
        tokenizerFree.Dispose();

        // A mask with no compiled path falls back to the generic loop.
        var other = new RouterSet(Shape.NLayers, Shape.Dim, new float[Shape.NLayers * Shape.Dim], [3f, -3f, -3f, -3f, -3f, 3f]);
        using var fallback = model.CreateSession(new SessionOptions { Threads = 1, Routers = other, Paths = table });
        fallback.Forward(5);
        Assert.IsType<MaskedPath>(fallback.DecodePath);
        Assert.Equal("100001", fallback.Mask.ToString());
    }

    [Fact]
    public void RunStatsReportTheRouting()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        var tokenizer = Tokenization.TextTokenizer.Load(SharedModels.Tok512);
        var routers = new RouterSet(5, 64, new float[5 * 64], [3f, -3f, 3f, 3f, -3f]);
        var generator = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Routers = routers });
        var run = generator.Generate("Once upon a time", new GenerationOptions { MaxNewTokens = 8, Sampling = new() { Temperature = 0 } });
        _ = run.ToList();
        Assert.Equal("10110", run.Stats.Mask);
        Assert.NotNull(run.Stats.Routing);
        Assert.Equal(5, run.Stats.Routing!.Probabilities.Count);
        Assert.Equal(3L * 2 * model.Config.KvDim * model.Config.MaxSeqLen * 4, run.Stats.KvBytes);
        Assert.Equal("generic", run.Stats.DecodePath); // no compiled paths given: the masked loop
    }

    [Fact]
    public void CancelledRoutedPrefillLeavesTheSessionReadyToRouteAgain()
    {
        var (_, path) = RandomModel(8);
        var routers = RandomRouters(Shape.NLayers, Shape.Dim, seed: 8);
        using var model = LlamaModel.Load(path);
        int[] prompt = Enumerable.Range(1, 30).ToArray();
        using var fresh = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers });
        var expected = fresh.Prefill(prompt).ToArray();

        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers });
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => session.Prefill(prompt, cts.Token));
        Assert.Null(session.Routing);
        Assert.Equal(0, session.Position);
        Assert.Equal(expected, session.Prefill(prompt).ToArray());
        Assert.Equal(fresh.Mask, session.Mask);
    }

    [Fact]
    public void RouterFilesRoundTrip()
    {
        var routers = RandomRouters(6, 48, seed: 9);
        string file = _dir.File("r.routers.bin");
        routers.Save(file);
        var loaded = RouterSet.Load(file);
        Assert.Equal(6, loaded.Layers);
        Assert.Equal(48, loaded.Dim);
        for (int l = 0; l < 6; l++)
        {
            Assert.Equal(routers.Bias(l), loaded.Bias(l));
            Assert.True(routers.Weights(l).SequenceEqual(loaded.Weights(l)));
        }
        Assert.Equal(20 + 6 * 49 * 4, new FileInfo(file).Length);
    }

    [Fact]
    public void RoutersThatDoNotFitTheModelAreRefused()
    {
        var (_, path) = RandomModel(7);
        using var model = LlamaModel.Load(path);
        string file = _dir.File("wrong.routers.bin");
        RandomRouters(5, 48, seed: 1).Save(file);
        var e = Assert.Throws<ModelLoadException>(() => model.CreateSession(new SessionOptions { Routers = RouterSet.Load(file) }));
        Assert.Contains("wrong.routers.bin", e.Message);
        Assert.Contains("5 layers", e.Message);
        RandomRouters(6, 40, seed: 1).Save(file);
        Assert.Contains("width 40", Assert.Throws<ModelLoadException>(() => model.CreateSession(new SessionOptions { Routers = RouterSet.Load(file) })).Message);

        var fits = RandomRouters(6, 48, seed: 1);
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Routers = fits, Mask = LayerMask.All(6) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateSession(new SessionOptions { Routers = fits, RouterThreshold = 1.5f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateSession(new SessionOptions { Routers = fits, RouterThreshold = float.NaN }));
    }

    [Theory]
    [InlineData("empty", "shorter than the 20-byte header")]
    [InlineData("magic", "not a FiRST router file")]
    [InlineData("version", "version 2 is not supported")]
    [InlineData("layers", "n_layers: 0 is outside")]
    [InlineData("dim", "dim: -3 is outside")]
    [InlineData("truncated", "take exactly")]
    [InlineData("trailing", "take exactly")]
    [InlineData("nan", "layer 2: the router holds NaN")]
    public void CorruptRouterFilesNameTheFileAndTheProblem(string damage, string expected)
    {
        string file = _dir.File("r.routers.bin");
        RandomRouters(4, 8, seed: 2).Save(file);
        byte[] bytes = File.ReadAllBytes(file);
        bytes = damage switch
        {
            "empty" => [],
            "magic" => [(byte)'X', .. bytes[1..]],
            "version" => Patch(bytes, 8, 2),
            "layers" => Patch(bytes, 12, 0),
            "dim" => Patch(bytes, 16, -3),
            "truncated" => bytes[..^5],
            "trailing" => [.. bytes, 0],
            "nan" => Patch(bytes, 20 + 2 * 9 * 4 + 12, BitConverter.SingleToInt32Bits(float.NaN)),
            _ => throw new ArgumentException(damage),
        };
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<ModelLoadException>(() => RouterSet.Load(file));
        Assert.Contains(file, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("router file not found", Assert.Throws<ModelLoadException>(() => RouterSet.Load(_dir.File("missing.bin"))).Message);
    }

    private static byte[] Patch(byte[] bytes, int at, int value)
    {
        var copy = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(copy.AsSpan(at), value);
        return copy;
    }

    private static void AssertClose(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= 1e-4, $"max abs diff {worst}");
    }

    private sealed class CountingPath(LayerMask mask) : IDecodePath
    {
        public LayerMask Mask { get; } = mask;
        public int Steps { get; private set; }

        public void RunLayers(Transformer transformer, KvCache cache, int position)
        {
            Steps++;
            foreach (int l in Mask.KeptLayers) transformer.Layer(l, position, cache);
        }
    }
}
