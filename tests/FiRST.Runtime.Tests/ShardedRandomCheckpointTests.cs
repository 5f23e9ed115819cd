using System.Text.Json;
using FiRST.Runtime.Loading;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// <c>make-model</c>'s sharded Hugging Face checkpoints (written a tensor at a time, as the 7B shape needs), on a
/// small shape forced into several shards, and int8 quantization as a checkpoint is read.
/// </summary>
public sealed class ShardedRandomCheckpointTests
{
    private static readonly ModelConfig Small = new()
    {
        Dim = 48, HiddenDim = 96, NLayers = 3, NHeads = 6, NKvHeads = 2, VocabSize = 67, MaxSeqLen = 32, SharedClassifier = false,
    };

    /// <summary>The smallest shard limit (a multiple of 64 bytes) that splits <paramref name="config"/>'s tensors into exactly <paramref name="shards"/> files.</summary>
    private static long LimitFor(ModelConfig config, bool bfloat16, int shards)
    {
        for (long limit = 64; ; limit += 64)
        {
            int n = RandomCheckpoint.Shards(config, bfloat16, limit).Count;
            if (n == shards) return limit;
            if (n < shards) throw new InvalidOperationException($"no limit gives {shards} shards");
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void ASmallShapeForcedIntoThreeShardsHoldsTheSingleFilesTensorsAndLogits(bool bfloat16, bool shared)
    {
        var config = Small with { SharedClassifier = shared };
        using var dir = new TempDir();
        string single = dir.File("single"), sharded = dir.File("sharded");
        RandomCheckpoint.WriteDirectory(config, 17, single, bfloat16: bfloat16);
        RandomCheckpoint.WriteDirectory(config, 17, sharded, bfloat16: bfloat16, maxShardBytes: LimitFor(config, bfloat16, 3));

        string[] shards = [.. Enumerable.Range(1, 3).Select(i => Path.Combine(sharded, $"model-0000{i}-of-00003.safetensors"))];
        Assert.All(shards, s => Assert.True(File.Exists(s), s));
        Assert.False(File.Exists(Path.Combine(sharded, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(single, "model.safetensors.index.json")));

        // Every tensor of the single file is in the shard the index names, byte for byte, and nothing else is.
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(sharded, "model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        using var whole = SafetensorsFile.Open(Path.Combine(single, "model.safetensors"));
        var parts = shards.Select(SafetensorsFile.Open).ToArray();
        try
        {
            Assert.Equal(whole.Entries.Keys.Order(), weightMap.Keys.Order());
            Assert.Equal(shared, !weightMap.ContainsKey("lm_head.weight"));
            Assert.Equal(whole.Entries.Count, parts.Sum(p => p.Entries.Count));
            long total = 0;
            foreach (var (name, entry) in whole.Entries)
            {
                var part = parts.Single(p => Path.GetFileName(p.Path) == weightMap[name]);
                var inPart = part.Entries[name];
                Assert.Equal(entry.DType, inPart.DType);
                Assert.Equal(entry.Shape, inPart.Shape);
                Assert.True(Bytes(whole, entry).SequenceEqual(Bytes(part, inPart)), name);
                total += entry.End - entry.Begin;
            }
            Assert.Equal(total, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }

        // The same model: the same logits, as stored and quantized as read.
        foreach (var format in new[] { WeightFormat.AsStored, WeightFormat.Q8 })
        {
            using var a = LlamaModel.Load(single, new ModelLoadOptions { Format = format });
            using var b = LlamaModel.Load(sharded, new ModelLoadOptions { Format = format });
            Assert.Equal(a.Config, b.Config);
            using var sa = a.CreateSession(new SessionOptions { Threads = 1 });
            using var sb = b.CreateSession(new SessionOptions { Threads = 1 });
            foreach (int token in new[] { 1, 5, 66, 7, 7, 0, 22, 13 })
                Assert.True(sa.Forward(token).SequenceEqual(sb.Forward(token)), $"{format}, token {token}");
        }
    }

    private static unsafe byte[] Bytes(SafetensorsFile file, SafetensorsEntry entry) =>
        new ReadOnlySpan<byte>(file.DataPointer(entry), checked((int)(entry.End - entry.Begin))).ToArray();

    [Fact]
    public void AMissingShardIsAOneLineErrorNamingIt()
    {
        using var dir = new TempDir();
        string sharded = dir.File("sharded");
        RandomCheckpoint.WriteDirectory(Small, 3, sharded, bfloat16: true, maxShardBytes: LimitFor(Small, true, 3));
        string missing = Path.Combine(sharded, "model-00002-of-00003.safetensors");
        File.Delete(missing);

        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(sharded, new ModelLoadOptions { Format = WeightFormat.Q8 }));
        Assert.Equal(missing, e.FilePath);
        Assert.StartsWith($"{missing}: file not found", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ACancelledShardedWriteLeavesNoFile()
    {
        using var dir = new TempDir();
        string sharded = dir.File("sharded");
        long limit = LimitFor(Small, false, 3);
        using var cancel = new CancellationTokenSource();
        // Cancelled past half the weights: the first shard is whole by then, the second begun.
        var progress = new Synchronous(f => { if (f > 0.5) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            RandomCheckpoint.WriteDirectory(Small, 3, sharded, progress: progress, cancellationToken: cancel.Token, maxShardBytes: limit));
        Assert.Empty(Directory.GetFiles(sharded));
    }

    private sealed class Synchronous(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }

    [Theory]
    [InlineData(false, WeightFormat.Q8)]
    [InlineData(true, WeightFormat.Q8)]
    [InlineData(true, WeightFormat.Q4)]
    public void QuantizingAsTheCheckpointIsReadGivesTheWeightsOfQuantizingAfterLoad(bool bfloat16, WeightFormat format)
    {
        using var dir = new TempDir();
        RandomCheckpoint.WriteDirectory(Small, 5, dir.Path, bfloat16: bfloat16, maxShardBytes: LimitFor(Small, bfloat16, 2));
        var (_, streamed) = SafetensorsCheckpoint.Load(dir.Path, null, _ => true, quantizeGroupSize: 32, format: format);
        var (_, stored) = SafetensorsCheckpoint.Load(dir.Path, null, _ => true);
        using (streamed)
        using (stored)
        using (var after = Quantizer.QuantizeAll(stored, format, Quantizer.GroupSizeFor(Small), []))
        {
            Assert.True(streamed.IsQuantized);
            // 4-bit where rows are whole groups of 32 (the down projection's 96), int8 elsewhere (rows of 48).
            if (format == WeightFormat.Q4)
                Assert.All(streamed.Layers, l => Assert.Equal(("q4", "q8"), (l!.W2.FormatName, l.W1.FormatName)));
            static IEnumerable<Matrix> All(ModelWeights w) =>
                new[] { w.TokenEmbedding, w.Classifier, w.RmsFinal }.Concat(w.Layers.SelectMany(l => new[] { l!.RmsAtt, l.Wq, l.Wk, l.Wv, l.Wo, l.RmsFfn, l.W1, l.W2, l.W3 }));
            foreach (var (x, y) in All(streamed).Zip(All(after)))
            {
                Assert.Equal((x.Rows, x.Cols, x.GroupSize, x.IsInterleaved, x.FormatName), (y.Rows, y.Cols, y.GroupSize, y.IsInterleaved, y.FormatName));
                float[] rx = new float[x.Cols], ry = new float[y.Cols];
                for (int r = 0; r < x.Rows; r++)
                {
                    x.CopyRow(r, rx);
                    y.CopyRow(r, ry);
                    Assert.True(rx.SequenceEqual(ry), $"row {r} of a {x.Rows}x{x.Cols} matrix");
                }
            }
        }
    }

    [Fact]
    public void AnUnsharedClassifierIsDrawnLastInBothFormats()
    {
        using var dir = new TempDir();
        RandomCheckpoint.Write(Small, 9, dir.File("m.bin"));
        RandomCheckpoint.WriteDirectory(Small, 9, dir.File("hf"));
        using var bin = LlamaModel.Load(dir.File("m.bin"));
        using var hf = LlamaModel.Load(dir.File("hf"));
        Assert.False(bin.Config.SharedClassifier);
        Assert.Equal(bin.Config, hf.Config);
        Assert.False(hf.Weights.Classifier.SameMemory(hf.Weights.TokenEmbedding));
        using var a = bin.CreateSession(new SessionOptions { Threads = 1 });
        using var b = hf.CreateSession(new SessionOptions { Threads = 1 });
        for (int t = 0; t < 8; t++) Assert.True(a.Forward(t).SequenceEqual(b.Forward(t)), $"position {t}");
    }

    [Fact]
    public void TheBigShapesHaveThePublishedParameterCountsAndShardAsTransformersDoes()
    {
        Assert.Equal(1_100_048_384, RandomCheckpoint.ShapeTinyLlama1B.ParameterCount);
        Assert.Equal(6_738_415_616, RandomCheckpoint.ShapeLlama2_7B.ParameterCount);
        // 7B in bfloat16: 13.5 GB in three shards of at most 5 GB; TinyLlama's 2.2 GB stays one file, as on the Hub.
        var plan = RandomCheckpoint.Shards(RandomCheckpoint.ShapeLlama2_7B, bfloat16: true, SafetensorsShards.DefaultMaxBytes);
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"], plan.Select(p => p.File));
        Assert.Equal(["model.safetensors"], RandomCheckpoint.Shards(RandomCheckpoint.ShapeTinyLlama1B, bfloat16: true, SafetensorsShards.DefaultMaxBytes).Select(p => p.File));
    }
}
