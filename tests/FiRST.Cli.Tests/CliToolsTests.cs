using FiRST.Runtime;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Text.Json;
using FiRST.Runtime.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Cli.Tests;

/// <summary><c>first make-model</c>, <c>first quantize</c> and <c>first bench</c>.</summary>
public sealed class CliToolsTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

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

    /// <summary>A scaled-down Llama 3.2 shape: the 1B's RoPE settings (base 500000, llama3 scaling 32/1/4) over an original context of 64.</summary>
    private const string Llama3Shape = """
        {"dim": 64, "hidden_dim": 256, "n_layers": 2, "n_heads": 4, "n_kv_heads": 1, "vocab_size": 300, "max_seq_len": 512, "norm_eps": 1e-5,
         "rope_theta": 500000, "rope_scaling": {"type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 64}}
        """;

    [Fact]
    public void MakeModelWritesALlama3ShapedDirectoryThatInspectDescribes()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), Llama3Shape);
        var made = FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--seed", "3", "--out", dir.File("l3"));
        Assert.True(made.ExitCode == 0, made.Stderr);
        using (var model = LlamaModel.Load(dir.File("l3")))
        {
            Assert.Equal(RopeScaling.Llama3(32, 1, 4, 64), model.Config.RopeScaling);
            Assert.Equal(500000f, model.Config.RopeTheta);
        }
        var inspect = FirstCli.Run("inspect", "--model", dir.File("l3"));
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains("rope_theta       500000", inspect.Stdout);
        Assert.Contains("rope_scaling     llama3 (factor 32, low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 64)", inspect.Stdout);

        // A llama2.c file would load with base 10000 and no scaling: refused, one line.
        var refused = FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--format", "llama2c", "--out", dir.File("l3.bin"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("a llama2.c file holds no norm_eps, rope_theta or RoPE scaling", refused.Stderr);
        Assert.False(File.Exists(dir.File("l3.bin")));
    }

    [Fact]
    public void MakeModelGivesTheSameWeightsAsLlama2cAndAsSafetensors()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), SmallShape);
        Assert.Equal(0, FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--seed", "9", "--out", dir.File("m.bin")).ExitCode);
        var made = FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--seed", "9", "--format", "safetensors", "--out", dir.File("m"));
        Assert.True(made.ExitCode == 0, made.Stderr);
        using var bin = LlamaModel.Load(dir.File("m.bin"));
        using var hf = LlamaModel.Load(dir.File("m"));
        Assert.Equal(bin.Config, hf.Config);
        using var a = bin.CreateSession(new SessionOptions { Threads = 1 });
        using var b = hf.CreateSession(new SessionOptions { Threads = 1 });
        for (int t = 0; t < 8; t++) Assert.True(a.Forward(t).SequenceEqual(b.Forward(t)), $"position {t}");
    }

    [Fact]
    public void QuantizeWritesAnInt8ModelThatLoads()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), SmallShape);
        var made = FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--out", dir.File("f32.bin"));
        Assert.True(made.ExitCode == 0, made.Stderr);
        var result = FirstCli.Run("quantize", "--model", dir.File("f32.bin"), "--out", dir.File("q8.bin"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var model = LlamaModel.Load(dir.File("q8.bin"));
        Assert.True(model.Weights.IsQuantized);
        Assert.Equal(32, model.Weights.GroupSize);
    }

    [Fact]
    public void QuantizeToFourBitsWritesAGgufWithTheVocabularyThatLoads()
    {
        SharedModels.Require();
        using var dir = new TempDir();
        // Rows of 64 and 160 values: 4-bit in groups of 32 where rows are whole groups, int8 for the down projection.
        File.WriteAllText(dir.File("shape.json"), SmallShape.Replace("\"vocab_size\": 300", "\"vocab_size\": 512"));
        Assert.Equal(0, FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--out", dir.File("f32.bin")).ExitCode);
        var result = FirstCli.Run("quantize", "--model", dir.File("f32.bin"), "--format", "q4", "--tokenizer", SharedModels.Tok512, "--out", dir.File("q4.gguf"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("4-bit (Q4_0, classifier Q8_0), 512 pieces of vocabulary", result.Stdout);
        using var model = LlamaModel.Load(dir.File("q4.gguf"));
        Assert.Equal(("q4", "q8"), (model.Weights.FormatName, model.Weights.Classifier.FormatName));
        Assert.Equal(512, FiRST.Runtime.Tokenization.TextTokenizer.Load(dir.File("q4.gguf")).VocabSize);

        // A 4-bit file is a GGUF file: another name is refused in one line, and nothing is written.
        var wrongName = FirstCli.Run("quantize", "--model", dir.File("f32.bin"), "--format", "q4", "--out", dir.File("q4.bin"));
        Assert.NotEqual(0, wrongName.ExitCode);
        Assert.Contains("--format q4 writes a GGUF file", wrongName.Stderr);
        Assert.Single(wrongName.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(dir.File("q4.bin")));
    }

    [Fact]
    public void BenchJsonReportsSpeedBytesAndBandwidth()
    {
        SharedModels.Require();
        var result = FirstCli.Run("bench", "--model", SharedModels.Stories260K, "--threads", "1", "--steps", "8", "--prompt-tokens", "8", "--runs", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        var r = json.RootElement;
        // Speeds are the benchmarks' business: here only that they are measurements (finite and positive: a
        // time over real work is never zero or negative) and that the report's fields are consistent with one
        // another and with the options given.
        double decode = r.GetProperty("decode_tokens_per_second").GetDouble(), ms = r.GetProperty("ms_per_token").GetDouble();
        double prefill = r.GetProperty("prefill_tokens_per_second").GetDouble();
        double achieved = r.GetProperty("achieved_g_bs").GetDouble(), memory = r.GetProperty("memory_bandwidth_g_bs").GetDouble();
        foreach (var (name, v) in new[] { ("decode", decode), ("ms/token", ms), ("prefill", prefill), ("achieved", achieved), ("memory", memory) })
            Assert.True(double.IsFinite(v) && v > 0, $"{name}: {v}");
        Assert.Equal(1000.0, decode * ms, 1e-9 * 1000);                                // tokens/s and ms/token are one median
        Assert.Equal(1.0, achieved * 1e9 / (r.GetProperty("weight_bytes_per_token").GetInt64() * decode), 1e-9); // bytes x tokens/s
        // The share is taken against the faster of the probe and the fastest decode run, so it is never above 1.
        double bestRun = r.GetProperty("best_run_g_bs").GetDouble(), ceiling = r.GetProperty("ceiling_g_bs").GetDouble();
        Assert.True(bestRun >= achieved, $"the fastest run ({bestRun}) is at least the median ({achieved})");
        Assert.Equal(Math.Max(memory, bestRun), ceiling);
        Assert.Equal(achieved / ceiling, r.GetProperty("bandwidth_share").GetDouble(), 1e-12);
        Assert.InRange(r.GetProperty("bandwidth_share").GetDouble(), 0, 1);
        Assert.Contains("per thread", r.GetProperty("probe_pattern").GetString());
        var patterns = r.GetProperty("probe_patterns").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Contains(patterns, p => p.StartsWith(r.GetProperty("probe_pattern").GetString() + ": ", StringComparison.Ordinal));
        Assert.Equal(1, r.GetProperty("threads").GetInt32());
        Assert.Equal(8, r.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(8, r.GetProperty("decode_steps").GetInt32());
        Assert.Equal(1, r.GetProperty("runs").GetInt32());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("quantization").ValueKind); // f32: nothing to compare with
        // stories260K: 5 layers of (2 x 64 norms + 2 x 64x64 + 2 x 32x64 + 3 x 172x64) floats, the final norm,
        // the 512x64 classifier and one 64-float embedding row, 4 bytes each.
        long expected = 4L * (5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64 + 512 * 64 + 64);
        Assert.Equal(expected, r.GetProperty("weight_bytes_per_token").GetInt64());
        Assert.Equal("f32", r.GetProperty("weights").GetString());
    }

    [Fact]
    public void ABFloat16ModelIsReportedAsBFloat16WithTwoBytesPerWeight()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("shape.json"), SmallShape);
        string hf = dir.File("hf");
        var made = FirstCli.Run("make-model", "--shape", dir.File("shape.json"), "--format", "safetensors", "--dtype", "BF16", "--out", hf);
        Assert.True(made.ExitCode == 0, made.Stderr);
        var inspect = FirstCli.Run("inspect", "--model", hf);
        Assert.Contains("weights          bf16", inspect.Stdout);
        // 2 x 64 float32 norms + (2 x 64x64 + 2 x 32x64 + 3 x 160x64) bfloat16 weights per layer.
        Assert.Contains($"bytes per layer  {4 * 2 * 64 + 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 160 * 64):N0}", inspect.Stdout);

        long Bench(string quant, string weights)
        {
            var result = FirstCli.Run("bench", "--model", hf, "--quant", quant, "--threads", "1", "--steps", "2", "--prompt-tokens", "2", "--runs", "1", "--json");
            Assert.True(result.ExitCode == 0, result.Stderr);
            using var json = JsonDocument.Parse(result.Stdout);
            Assert.Equal(weights, json.RootElement.GetProperty("weights").GetString());
            return json.RootElement.GetProperty("weight_bytes_per_token").GetInt64();
        }
        // Layers' matrices, the 300x64 classifier and one embedding row, 2 bytes each; the 5 norms, 4 bytes.
        long matrices = 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 160 * 64) + 300 * 64 + 64, norms = 5 * 64;
        Assert.Equal(2 * matrices + 4 * norms, Bench("none", "bf16"));
        Assert.Equal(4 * matrices + 4 * norms, Bench("f32", "f32"));
    }

    [Fact]
    public void BenchWithQ8ReportsQuantizationQuality()
    {
        SharedModels.Require();
        var result = FirstCli.Run("bench", "--model", SharedModels.Stories260K, "--quant", "q8", "--threads", "1", "--steps", "4", "--prompt-tokens", "4", "--runs", "1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        _output.WriteLine(result.Stdout);
        // The report's numbers, parsed (in the culture the tool printed them in).
        double Number(string pattern)
        {
            var m = Regex.Match(result.Stdout, pattern);
            Assert.True(m.Success, $"no match for '{pattern}' in:\n{result.Stdout}");
            return double.Parse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.CurrentCulture);
        }
        const string num = @"(-?[0-9]+(?:[.,][0-9]+)?)";
        double rmsError = Number(@"logits RMS error\s+" + num), rms = Number(@"\(logits RMS " + num);
        int steps = (int)Number(num + @" greedy steps vs float32");
        double teacherForced = Number(@"greedy agreement\s+" + num + @"\s?%") / 100, freeRunning = Number(@"free-running " + num + @"\s?%") / 100;
        int firstDifference = (int)Number(@"first difference at token " + num);
        // Groups of 32 halved until they divide every row: stories260K's hidden_dim is 172 = 4 x 43, so 4.
        Assert.Equal(4, (int)Number(@"int8, groups of " + num));

        // 200 steps (the tool's cap; stories260K's context is 512).
        Assert.Equal(200, steps);
        Assert.True(double.IsFinite(rms) && rms > 1, $"logits RMS {rms}");
        // Symmetric int8 in groups of 4: a weight moves by at most half a step, max|group| / 254, and its rounding
        // error has RMS max|group| / (127 sqrt 12), ~0.3% of a typical weight (the largest of 4 Gaussian weights is
        // ~1.5 sigma). The activations are rounded the same way, so one matmul's output is off by ~0.5% RMS.
        // stories260K chains about 20 matmuls (5 layers of q/k/v, o, w1/w3, w2) between the embedding and the
        // logits; errors that added up linearly over all of them would stay under 10%. (Measured here: 4.4%, and
        // the rounding is exact integer arithmetic, so another processor only changes float summation order.)
        // A wrong scale, group or kernel gives errors of the order of the logits themselves.
        Assert.True(double.IsFinite(rms) && rms > 1, $"logits RMS {rms}: a loaded model's logits are not near zero");
        Assert.InRange(rmsError, 0, 0.10 * rms);
        Assert.True(rmsError > 0, "the q8 logits equal the float32 ones exactly: the comparison ran the same weights twice");
        // Same context, greedy choice: it changes only where the best two logits are closer than the error above
        // (measured: 95%, 10 of 200 steps). A broken kernel agrees about as often as chance (1 in 512 tokens);
        // 85% leaves room for a few more near ties moved by another processor's summation order.
        Assert.InRange(teacherForced, 0.85, 1);
        // Free-running, every token before the first difference agrees, so the share is at least first/steps
        // (less half of the printed 0.1%), and "no difference" (first == steps) means every token agrees.
        Assert.InRange(firstDifference, 0, steps);
        Assert.InRange(freeRunning, (double)firstDifference / steps - 0.0005 - 1e-9, 1);
        if (firstDifference == steps) Assert.Equal(1, freeRunning);

        // float32's greedy run: every change of token can bring at most one new token (measured: 81 tokens in 147 changes).
        int distinct = (int)Number(num + @" distinct tokens"), changes = (int)Number(num + @" changes of token");
        Assert.InRange(changes, 0, steps - 1);
        Assert.InRange(distinct, 1, changes + 1);
        // Random contexts: 512 positions; int8 agreed at 91% here, a broken kernel near chance.
        double randomContext = Number(@"random-context agreement\s+" + num + @"\s?%") / 100;
        Assert.Equal(512, (int)Number(@"\(" + num + " positions: runs of 64"));
        Assert.InRange(randomContext, 0.8, 1);

        // --agreement-positions 0 leaves the random contexts out (big models pay a decode step of both per position).
        var without = FirstCli.Run("bench", "--model", SharedModels.Stories260K, "--quant", "q8", "--threads", "1", "--steps", "2", "--prompt-tokens", "2", "--runs", "1",
            "--agreement-positions", "0");
        Assert.True(without.ExitCode == 0, without.Stderr);
        Assert.Contains("greedy agreement", without.Stdout);
        Assert.DoesNotContain("random-context", without.Stdout);
    }
}
