using FiRST.Runtime;
using System.Security.Cryptography;
using System.Text.Json;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary><c>first make-model</c>, <c>first quantize</c> and <c>first bench</c>.</summary>
public sealed class CliToolsTests
{
    private const string SmallShape = """{"dim": 64, "hidden_dim": 160, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 300, "max_seq_len": 64}""";

    [Fact]
    public void MakeModelIsDeterministicPerSeedAndLoads()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), SmallShape);
        Assert.Equal(0, FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--seed", "7", "--out", dir.File("a.bin")).ExitCode);
        Assert.Equal(0, FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--seed", "7", "--out", dir.File("b.bin")).ExitCode);
        Assert.Equal(0, FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--seed", "8", "--out", dir.File("c.bin")).ExitCode);
        string Hash(string f) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)));
        Assert.Equal(Hash(dir.File("a.bin")), Hash(dir.File("b.bin")));
        Assert.NotEqual(Hash(dir.File("a.bin")), Hash(dir.File("c.bin")));

        using var model = LlamaModel.Load(dir.File("a.bin"));
        Assert.Equal(new ModelConfig { Dim = 64, HiddenDim = 160, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 300, MaxSeqLen = 64 }, model.Config);
        // Weights ~ N(0, 0.02): check the spread of one matrix, and norms of exactly 1.
        var m = model.Weights.Layers[0]!.Wq;
        var wq = Enumerable.Range(0, m.Rows).SelectMany(r => m.Row(r).ToArray()).ToArray();
        double std = Math.Sqrt(wq.Average(v => (double)v * v));
        Assert.InRange(std, 0.018, 0.022);
        Assert.All(model.Weights.Layers[1]!.RmsFfn.Row(0).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void QuantizeWritesAnInt8ModelThatLoads()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), SmallShape);
        FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--out", dir.File("f32.bin"));
        var result = FirstCli.Run("quantize", "--model", dir.File("f32.bin"), "--out", dir.File("q8.bin"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var model = LlamaModel.Load(dir.File("q8.bin"));
        Assert.True(model.Weights.IsQuantized);
        Assert.Equal(32, model.Weights.GroupSize);
    }

    [Fact]
    public void BenchJsonReportsSpeedBytesAndBandwidth()
    {
        SharedModels.Require();
        var result = FirstCli.Run("bench", "--model", SharedModels.Stories260K, "--threads", "1", "--steps", "8", "--prompt-tokens", "8", "--runs", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        var r = json.RootElement;
        Assert.True(r.GetProperty("decode_tokens_per_second").GetDouble() > 0);
        Assert.True(r.GetProperty("prefill_tokens_per_second").GetDouble() > 0);
        Assert.True(r.GetProperty("memory_bandwidth_g_bs").GetDouble() > 0);
        // stories260K: 5 layers of (2 x 64 norms + 2 x 64x64 + 2 x 32x64 + 3 x 172x64) floats, the final norm,
        // the 512x64 classifier and one 64-float embedding row, 4 bytes each.
        long expected = 4L * (5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64 + 512 * 64 + 64);
        Assert.Equal(expected, r.GetProperty("weight_bytes_per_token").GetInt64());
        Assert.Equal("f32", r.GetProperty("weights").GetString());
    }

    [Fact]
    public void BenchWithQ8ReportsQuantizationQuality()
    {
        SharedModels.Require();
        var result = FirstCli.Run("bench", "--model", SharedModels.Stories260K, "--quant", "q8", "--threads", "1", "--steps", "4", "--prompt-tokens", "4", "--runs", "1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("logits RMS error", result.Stdout);
        Assert.Contains("greedy agreement", result.Stdout);
    }
}
