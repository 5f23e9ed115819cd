using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>Hugging Face checkpoints (F32, F16, BF16, rotate-half RoPE) give the same logits as llama2.c files.</summary>
public sealed class SafetensorsTests
{
    [Theory]
    [InlineData("F32", true)]
    [InlineData("F32", false)]
    [InlineData("F16", false)]
    [InlineData("BF16", true)]
    public void SameWeightsGiveSameLogitsAsLlama2cFile(string dtype, bool shared)
    {
        var config = new ModelConfig { Dim = 48, HiddenDim = 75, NLayers = 2, NHeads = 6, NKvHeads = 2, VocabSize = 41, MaxSeqLen = 32, SharedClassifier = shared, NormEps = 1e-5f };
        Func<float, float>? round = dtype switch { "F16" => TestModel.ToHalf, "BF16" => TestModel.ToBFloat16, _ => null };
        var model = TestModel.Random(config, seed: 11, round: round);
        using var dir = new TempDir();
        string bin = dir.File("model.bin");
        string hf = dir.File("hf");
        model.WriteLlama2c(bin);
        model.WriteSafetensors(hf, dtype);

        using var fromBin = LlamaModel.Load(bin);
        using var fromHf = LlamaModel.Load(hf);
        Assert.Equal(fromBin.Config with { }, fromHf.Config with { });
        using var a = fromBin.CreateSession(new SessionOptions { Threads = 1 });
        using var b = fromHf.CreateSession(new SessionOptions { Threads = 1 });
        var reference = new ReferenceTransformer(model);
        foreach (int token in new[] { 1, 5, 40, 7, 7, 0, 22, 13, 3, 9 })
        {
            var expected = reference.Forward(token);
            float[] la = a.Forward(token).ToArray();
            float[] lb = b.Forward(token).ToArray();
            for (int i = 0; i < la.Length; i++)
            {
                Assert.True(Math.Abs(la[i] - lb[i]) <= 1e-5, $"token {token}, logit {i}: .bin {la[i]} vs safetensors {lb[i]}");
                Assert.True(Math.Abs(lb[i] - expected[i]) <= 1e-4, $"token {token}, logit {i}: safetensors {lb[i]} vs reference {expected[i]}");
            }
        }
    }

    [Fact]
    public void RotateHalfWithoutUnpermutingWouldDiffer()
    {
        // Guards the test above: writing q/k without Hugging Face's permutation must change the logits,
        // otherwise the RoPE convention would not be exercised at all.
        var config = new ModelConfig { Dim = 32, HiddenDim = 48, NLayers = 1, NHeads = 4, NKvHeads = 2, VocabSize = 16, MaxSeqLen = 8 };
        var model = TestModel.Random(config, seed: 3);
        var permuted = new TestModel
        {
            Config = config, Embedding = model.Embedding, RmsAtt = model.RmsAtt,
            Wq = model.Wq.Select(w => TestModel.ToRotateHalf(w, 4, 8, 32)).ToArray(),
            Wk = model.Wk.Select(w => TestModel.ToRotateHalf(w, 2, 8, 32)).ToArray(),
            Wv = model.Wv, Wo = model.Wo, RmsFfn = model.RmsFfn, W1 = model.W1, W2 = model.W2, W3 = model.W3,
            RmsFinal = model.RmsFinal, Classifier = model.Classifier,
        };
        var r1 = new ReferenceTransformer(model);
        var r2 = new ReferenceTransformer(permuted);
        double maxDiff = 0;
        foreach (int t in new[] { 1, 2, 3, 4 })
        {
            var x = r1.Forward(t);
            var y = r2.Forward(t);
            for (int i = 0; i < x.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(x[i] - y[i]));
        }
        Assert.True(maxDiff > 1e-3, $"permuted q/k rows changed logits by only {maxDiff}");
    }

    private static readonly ModelConfig ShardShape = new() { Dim = 16, HiddenDim = 24, NLayers = 2, NHeads = 2, NKvHeads = 2, VocabSize = 20, MaxSeqLen = 8, SharedClassifier = false };

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ShardedCheckpointLoadsThroughIndex(int shards)
    {
        var model = TestModel.Random(ShardShape, seed: 5);
        using var dir = new TempDir();
        string single = dir.File("single"), sharded = dir.File("sharded");
        model.WriteSafetensors(single, "F32");
        var weightMap = model.WriteShardedSafetensors(sharded, "F32", shards);
        // The tensors really are spread: every shard holds some, none holds them all.
        Assert.Equal(shards, weightMap.Values.Distinct().Count());
        Assert.False(File.Exists(Path.Combine(sharded, "model.safetensors")));

        using var a = LlamaModel.Load(single);
        using var b = LlamaModel.Load(sharded);
        Assert.Equal(a.Config, b.Config);
        using var sa = a.CreateSession(new SessionOptions { Threads = 1 });
        using var sb = b.CreateSession(new SessionOptions { Threads = 1 });
        var reference = new ReferenceTransformer(model);
        foreach (int token in new[] { 3, 1, 19, 7 })
        {
            var expected = reference.Forward(token);
            float[] la = sa.Forward(token).ToArray(), lb = sb.Forward(token).ToArray();
            Assert.Equal(la, lb);
            for (int i = 0; i < lb.Length; i++)
                Assert.True(Math.Abs(lb[i] - expected[i]) <= 1e-4, $"token {token}, logit {i}: sharded {lb[i]} vs reference {expected[i]}");
        }
    }

    [Fact]
    public void AnIndexNamingAMissingShardIsAClearError()
    {
        var model = TestModel.Random(ShardShape, seed: 5);
        using var dir = new TempDir();
        string sharded = dir.File("sharded");
        model.WriteShardedSafetensors(sharded, "F32", 3);
        string missing = Path.Combine(sharded, "model-00002-of-00003.safetensors");
        File.Delete(missing);

        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(sharded));
        Assert.Equal(missing, e.FilePath);
        Assert.StartsWith($"{missing}: file not found", e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnIndexPlacingATensorInAShardThatLacksItIsAClearError()
    {
        var model = TestModel.Random(ShardShape, seed: 5);
        using var dir = new TempDir();
        string sharded = dir.File("sharded");
        var weightMap = model.WriteShardedSafetensors(sharded, "F32", 2);
        // The index says layer 1's down projection is in the other shard.
        const string moved = "model.layers.1.mlp.down_proj.weight";
        string actualShard = weightMap[moved];
        string wrongShard = weightMap.Values.First(f => f != actualShard);
        weightMap[moved] = wrongShard;
        WriteIndex(sharded, weightMap);

        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(sharded));
        Assert.Equal(Path.Combine(sharded, wrongShard), e.FilePath);
        Assert.Equal(moved, e.Field);
        Assert.Contains("tensor not found", e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnIndexThatOmitsATensorTheModelNeedsIsAClearError()
    {
        var model = TestModel.Random(ShardShape, seed: 5);
        using var dir = new TempDir();
        string sharded = dir.File("sharded");
        var weightMap = model.WriteShardedSafetensors(sharded, "F32", 2);
        // The tensor is still in its shard, but the weight map (the checkpoint's table of contents) omits it.
        const string omitted = "model.norm.weight";
        Assert.True(weightMap.Remove(omitted));
        WriteIndex(sharded, weightMap);

        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(sharded));
        Assert.Equal(Path.Combine(sharded, "model.safetensors.index.json"), e.FilePath);
        Assert.Equal(omitted, e.Field);
        Assert.Contains("does not list it", e.Message);
    }

    private static void WriteIndex(string directory, Dictionary<string, string> weightMap) =>
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"),
            System.Text.Json.JsonSerializer.Serialize(new { metadata = new { }, weight_map = weightMap }));
}
