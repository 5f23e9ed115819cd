using FiRST.Runtime.Paths;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// The generator's output, compiled into this test assembly from <c>Profiles/stories260K.first.json</c> (a
/// hand-written profile whose tasks never use layer 3), run on the real stories260K weights.
/// </summary>
[FiRST.FiRSTModel("Profiles/stories260K.first.json")]
public partial class Stories260KProfile;

public sealed class GeneratedPathTests
{
    public static TheoryData<string> Tasks => new() { "Copy", "Reverse", "ShortAnswer" };

    private static IDecodePath PathOf(string task) => Stories260KProfile.PathFor(Enum.Parse<Stories260KProfile.Task>(task));

    [Theory]
    [MemberData(nameof(Tasks))]
    public void GeneratedPathEqualsGenericMaskedPathOver64Steps(string task)
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K, Stories260KProfile.LoadOptions());
        var path = PathOf(task);
        using var generated = model.CreateSession(new SessionOptions { Mask = path.Mask, Threads = 1 });
        double worst = MaxDifferenceFromGeneric(model, generated, path, threads: 1, steps: 64);
        Assert.True(worst <= 1e-5, $"{task}: max |generated - generic| = {worst}");

        // KV storage for exactly the kept layers: kept x 2 (K and V) x kv_dim x seq_len x 4 bytes.
        long expected = (long)path.Mask.KeptCount * 2 * Stories260KProfile.KvDim * Stories260KProfile.MaxSeqLen * sizeof(float);
        Assert.Equal(expected, generated.KvBytes);
    }

    /// <summary>
    /// 4-bit on stories260K: rows of 64 are 4-bit and multiply int8 activations, the down projection's rows of 172
    /// stay int8 in groups of 4 with float activations; the compiled path picks per matrix, as the generic loop does.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GeneratedPathOnAMixedFourBitModelEqualsTheGenericLoop(int threads)
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q4 });
        Assert.Equal(("q4", "q8"), (model.Weights.FormatName, model.Weights.Layers[0]!.W2.FormatName));
        var path = PathOf("Copy");
        using var generated = model.CreateSession(new SessionOptions { Mask = path.Mask, Threads = threads });
        double worst = MaxDifferenceFromGeneric(model, generated, path, threads, steps: 32);
        Assert.True(worst <= 1e-4, $"max |generated - generic| = {worst}");
    }

    /// <summary>
    /// Greedy decode from BOS on <paramref name="path"/> through <paramref name="generated"/>, against the generic
    /// masked loop fed the same tokens: the largest logit difference.
    /// </summary>
    private static double MaxDifferenceFromGeneric(LlamaModel model, InferenceSession generated, IDecodePath path, int threads, int steps)
    {
        using var generic = model.CreateSession(new SessionOptions { Mask = path.Mask, Threads = threads });
        int token = 1;
        double worst = 0;
        for (int step = 0; step < steps; step++)
        {
            float[] a = generated.Forward(token, path).ToArray();
            float[] b = generic.Forward(token).ToArray();
            for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
            token = Kernels.Ops.ArgMax(a);
        }
        return worst;
    }

    [Fact]
    public void GeneratedConstantsManifestAndTableDescribeTheProfile()
    {
        Assert.Equal(64, Stories260KProfile.Dim);
        Assert.Equal(5, Stories260KProfile.NLayers);
        Assert.Equal(32, Stories260KProfile.KvDim);
        Assert.Equal([0, 1, 2, 4], Stories260KProfile.UsedLayers);
        Assert.Equal("11101", PathOf("Copy").Mask.ToString());
        Assert.Equal("10101", PathOf("Reverse").Mask.ToString());
        Assert.Equal("10001", PathOf("ShortAnswer").Mask.ToString());
        Assert.True(Stories260KProfile.Paths.TryGet(LayerMask.FromKept(5, [0, 2, 4]), out var found));
        Assert.Same(PathOf("Reverse"), found);
        // A mask no task has falls back to the generic loop.
        Assert.IsType<MaskedPath>(Stories260KProfile.Paths.Resolve(LayerMask.FromKept(5, [1, 2])));
    }

    [Fact]
    public void LayersNoTaskUsesAreNeverLoaded()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K, Stories260KProfile.LoadOptions());
        Assert.False(model.IsLayerLoaded(3));
        Assert.True(model.IsLayerLoaded(4));
        // A session that needs layer 3 cannot be made from this model instance.
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Mask = LayerMask.All(5) }));
    }
}
