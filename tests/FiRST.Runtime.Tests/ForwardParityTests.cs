using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>The optimised forward pass against the scalar reference in <see cref="ReferenceTransformer"/>.</summary>
public sealed class ForwardParityTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, int, int, int, int, int, int, bool, int> Shapes => new()
    {
        // name, dim, hidden, layers, heads, kv heads, vocab, shared classifier, threads
        { "MHA, tiny", 16, 40, 2, 2, 2, 32, true, 1 },
        { "GQA 4:1, odd hidden and vocab", 40, 67, 3, 4, 1, 37, false, 1 },
        { "GQA 2:1, odd dims, 2 threads", 36, 99, 2, 6, 3, 53, true, 2 },
        // Big enough that matrix products and attention are split over the worker pool.
        { "GQA, parallel split, 3 threads", 136, 300, 2, 4, 2, 301, false, 3 },
        { "GQA, parallel split, 2 threads", 144, 300, 2, 8, 2, 257, true, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RandomModelLogitsMatchReference(string name, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, bool shared, int threads)
    {
        var config = new ModelConfig { Dim = dim, HiddenDim = hidden, NLayers = layers, NHeads = heads, NKvHeads = kvHeads, VocabSize = vocab, MaxSeqLen = 300, SharedClassifier = shared };
        var model = TestModel.Random(config, seed: name.Length * 31 + dim);
        using var dir = new TempDir();
        string path = dir.File("model.bin");
        model.WriteLlama2c(path);

        // Long enough for attention over > 240 positions to take the multi-threaded path on the larger shapes.
        int steps = dim >= 128 ? 260 : 40;
        CompareOverSteps(path, model, steps, threads, mask: null);
    }

    [Fact]
    public void Stories260KLogitsMatchReference()
    {
        SharedModels.Require();
        var model = TestModel.ReadLlama2c(SharedModels.Stories260K);
        CompareOverSteps(SharedModels.Stories260K, model, steps: 64, threads: 2, mask: null);
    }

    [Fact]
    public void MaskedSessionMatchesReferenceWithSkippedLayersAndAllocatesKvOnlyForKeptLayers()
    {
        SharedModels.Require();
        var model = TestModel.ReadLlama2c(SharedModels.Stories260K);
        var mask = LayerMask.FromKept(5, [0, 2, 4]);
        CompareOverSteps(SharedModels.Stories260K, model, steps: 32, threads: 1, mask);

        using var loaded = LlamaModel.Load(SharedModels.Stories260K);
        using var session = loaded.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
        var c = loaded.Config;
        Assert.Equal(3L * 2 * c.KvDim * c.MaxSeqLen * sizeof(float), session.KvBytes);
        Assert.False(session.Cache.HasLayer(1));
        Assert.True(session.Cache.HasLayer(2));
    }

    private static void CompareOverSteps(string path, TestModel model, int steps, int threads, LayerMask? mask)
    {
        using var loaded = LlamaModel.Load(path);
        using var session = loaded.CreateSession(new SessionOptions { Threads = threads, Mask = mask });
        bool[]? keep = mask is null ? null : Enumerable.Range(0, model.Config.NLayers).Select(mask.IsKept).ToArray();
        var reference = new ReferenceTransformer(model, keep);
        var rng = new Random(7);
        double worst = 0;
        for (int step = 0; step < steps; step++)
        {
            int token = rng.Next(model.Config.VocabSize);
            var expected = reference.Forward(token);
            var actual = session.Forward(token);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                double diff = Math.Abs(expected[i] - actual[i]);
                worst = Math.Max(worst, diff);
                if (diff > Tolerance)
                    Assert.Fail($"step {step}, logit {i}: runtime {actual[i]} vs reference {expected[i]} (|diff| {diff:E2} > {Tolerance:E0})");
            }
        }
        Assert.True(worst > 0 || steps == 0, "the runtime and the double-precision reference agree to the last bit, which float32 arithmetic cannot do: is the test comparing the runtime with itself?");
    }
}
