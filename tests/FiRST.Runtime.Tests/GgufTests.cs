using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>
/// llama.cpp GGUF files, written by the test-side <see cref="GgufWriter"/> from the same weights as a llama2.c
/// file: each type gives the logits of the llama2.c file holding what that type stores, the vocabulary in the
/// metadata encodes as the llama2.c tokenizer does, and whatever changes the math unsupported is refused in
/// one line naming the key or tensor.
/// </summary>
public sealed class GgufTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly int[] Tokens = [1, 5, 39, 7, 7, 0, 22, 13, 3, 9];

    /// <summary>The runtime's logits for <paramref name="tokens"/> from one model, one step at a time.</summary>
    private static List<float[]> Logits(LlamaModel model, int[] tokens)
    {
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        return tokens.Select(t => session.Forward(t).ToArray()).ToList();
    }

    private static double MaxDiff(List<float[]> a, List<float[]> b) =>
        a.Zip(b).Max(p => p.First.Zip(p.Second).Max(x => Math.Abs((double)x.First - x.Second)));

    [Fact]
    public void F32Stories260KGivesTheLogitsOfTheBinFile()
    {
        SharedModels.Require();
        var m = TestModel.ReadLlama2c(SharedModels.Stories260K);
        string gguf = _dir.File("stories260K.gguf");
        GgufWriter.FromModel(m, "F32", GgufWriter.VocabularyFromLlama2c(SharedModels.Tok512)).Write(gguf);

        using var bin = LlamaModel.Load(SharedModels.Stories260K);
        using var g = LlamaModel.Load(gguf);
        Assert.Equal(bin.Config, g.Config);
        int[] tokens = [1, 403, 407, 261, 378, 88, 500, 2, 17, 300];
        Assert.Equal(0, MaxDiff(Logits(bin, tokens), Logits(g, tokens)));
    }

    [Theory]
    [InlineData("F32", true)]
    [InlineData("F32", false)]
    [InlineData("F16", false)]
    [InlineData("BF16", true)]
    public void FloatTypesGiveTheLogitsOfTheBinFile(string type, bool shared)
    {
        var config = new ModelConfig { Dim = 48, HiddenDim = 75, NLayers = 2, NHeads = 6, NKvHeads = 2, VocabSize = 41, MaxSeqLen = 32, SharedClassifier = shared };
        Func<float, float>? round = type switch { "F16" => TestModel.ToHalf, "BF16" => TestModel.ToBFloat16, _ => null };
        var m = TestModel.Random(config, seed: 21, round: round);
        string bin = _dir.File("m.bin"), gguf = _dir.File("m.gguf");
        m.WriteLlama2c(bin);
        GgufWriter.FromModel(m, type).Write(gguf);
        using var a = LlamaModel.Load(bin);
        using var b = LlamaModel.Load(gguf);
        Assert.Equal(a.Config, b.Config);
        // The weights are exactly representable in the type, so the loaded floats are the .bin's.
        Assert.Equal(0, MaxDiff(Logits(a, Tokens), Logits(b, Tokens)));
    }

    /// <summary>Row lengths that are whole Q8_0/Q4_0 blocks of 32, as llama.cpp requires.</summary>
    private static readonly ModelConfig BlockShape = new() { Dim = 64, HiddenDim = 96, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 40, MaxSeqLen = 32, SharedClassifier = false };

    /// <summary>The same model with every matrix replaced by what <paramref name="type"/> stores of it (norms kept).</summary>
    private static TestModel Dequantized(TestModel m, string type)
    {
        float[] R(float[] w) => GgufWriter.RoundTrip(w, type);
        float[][] L(float[][] ws) => ws.Select(R).ToArray();
        return new TestModel
        {
            Config = m.Config, Embedding = R(m.Embedding), RmsAtt = m.RmsAtt, Wq = L(m.Wq), Wk = L(m.Wk), Wv = L(m.Wv), Wo = L(m.Wo),
            RmsFfn = m.RmsFfn, W1 = L(m.W1), W2 = L(m.W2), W3 = L(m.W3), RmsFinal = m.RmsFinal, Classifier = R(m.Classifier),
        };
    }

    /// <summary>
    /// A Q8_0 file loads as int8 (group 32) and runs what the runtime's own int8 of the dequantized weights runs:
    /// the same int8 values (max|q| is 127 in every block, so the runtime's scale max|w|/127 gives them back) and
    /// scales equal up to float rounding of d * 127 / 127, so the logits agree to 1e-5.
    /// </summary>
    [Fact]
    public void Q8_0LoadsAsInt8AndMatchesTheRuntimesQ8OfTheSameValues()
    {
        var m = TestModel.Random(BlockShape, seed: 22);
        string gguf = _dir.File("q8.gguf"), bin = _dir.File("q8-ref.bin");
        GgufWriter.FromModel(m, "Q8_0").Write(gguf);
        Dequantized(m, "Q8_0").WriteLlama2c(bin);
        using var g = LlamaModel.Load(gguf);
        Assert.True(g.Weights.IsQuantized);
        Assert.Equal(32, g.Weights.GroupSize);
        using var own = LlamaModel.Load(bin, new ModelLoadOptions { Format = WeightFormat.Q8, GroupSize = 32 });
        double diff = MaxDiff(Logits(own, Tokens), Logits(g, Tokens));
        output.WriteLine($"Q8_0 file vs the runtime's q8 of its dequantized weights: max |logit diff| {diff:G3}");
        Assert.True(diff <= 1e-5, $"max logit difference {diff}");
    }

    /// <summary>
    /// A Q4_0 file loads as 4-bit (groups of 32), every matrix as stored, and holds what the runtime's own 4-bit
    /// quantization of the dequantized values holds (Q4_0 values quantize back to themselves; the runtime's own
    /// keeps the classifier int8). With float32 activations the logits are those of the dequantized weights in
    /// float32, to float rounding.
    /// </summary>
    [Fact]
    public void Q4_0LoadsAsFourBitAndMatchesTheRuntimesQ4OfTheSameValues()
    {
        var m = TestModel.Random(BlockShape with { SharedClassifier = true }, seed: 23);
        string gguf = _dir.File("q4.gguf"), bin = _dir.File("q4-ref.bin");
        GgufWriter.FromModel(m, "Q4_0").Write(gguf);
        Dequantized(m, "Q4_0").WriteLlama2c(bin);
        using var g = LlamaModel.Load(gguf);
        Assert.Equal("q4", g.Weights.FormatName);
        Assert.Equal(32, g.Weights.GroupSize);
        Assert.Equal("q4", g.Weights.Layers[0]!.W2.FormatName);
        using var own = LlamaModel.Load(bin, new ModelLoadOptions { Format = WeightFormat.Q4 });
        Assert.Equal(("q4", "q8"), (own.Weights.FormatName, own.Weights.Classifier.FormatName));
        var a = new float[BlockShape.HiddenDim];
        var b = new float[BlockShape.HiddenDim];
        for (int l = 0; l < BlockShape.NLayers; l++)
            foreach (var (x, y) in new[] { (g.Weights.Layers[l]!.Wq, own.Weights.Layers[l]!.Wq), (g.Weights.Layers[l]!.W2, own.Weights.Layers[l]!.W2), (g.Weights.Layers[l]!.W3, own.Weights.Layers[l]!.W3) })
            {
                Assert.Equal("q4", y.FormatName);
                for (int r = 0; r < x.Rows; r++)
                {
                    x.CopyRow(r, a);
                    y.CopyRow(r, b);
                    Assert.True(a.AsSpan(0, x.Cols).SequenceEqual(b.AsSpan(0, x.Cols)), $"layer {l}, a {x.Rows}x{x.Cols} matrix, row {r}");
                }
            }

        using var reference = LlamaModel.Load(bin);
        using var floats = g.CreateSession(new SessionOptions { Threads = 1, QuantizeActivations = false });
        double diff = MaxDiff(Logits(reference, Tokens), Tokens.Select(t => floats.Forward(t).ToArray()).ToList());
        Assert.True(diff <= 1e-4, $"4-bit with float32 activations vs the dequantized float32 weights: {diff}");

        // --quant q8 keeps a quantized file as it is.
        using var gq = LlamaModel.Load(gguf, new ModelLoadOptions { Format = WeightFormat.Q8 });
        Assert.Equal("q4", gq.Weights.FormatName);
    }

    /// <summary>A file mixing Q8_0 with float matrices is read as float32: the runtime's int8 has one group size per model.</summary>
    [Fact]
    public void MixedQ8_0AndF32IsReadAsFloat()
    {
        var m = TestModel.Random(BlockShape, seed: 24);
        var dq = Dequantized(m, "Q8_0");
        string gguf = _dir.File("mixed.gguf"), bin = _dir.File("mixed.bin");
        // Every matrix Q8_0 but the classifier, written in F32 with the dequantized values, so both files hold the same numbers.
        var g = GgufWriter.FromModel(m, "Q8_0");
        g.Tensor("output.weight", dq.Classifier, m.Config.VocabSize, m.Config.Dim, "F32").Write(gguf);
        dq.WriteLlama2c(bin);
        using var a = LlamaModel.Load(gguf);
        Assert.False(a.Weights.IsQuantized);
        using var b = LlamaModel.Load(bin);
        Assert.Equal(0, MaxDiff(Logits(b, Tokens), Logits(a, Tokens)));
    }

    [Fact]
    public void VocabularyInTheMetadataEncodesAsTheLlama2cTokenizer()
    {
        SharedModels.Require();
        var m = TestModel.ReadLlama2c(SharedModels.Stories260K);
        string gguf = _dir.File("stories260K.gguf");
        GgufWriter.FromModel(m, "F32", GgufWriter.VocabularyFromLlama2c(SharedModels.Tok512)).Write(gguf);
        var bin = TextTokenizer.Load(SharedModels.Tok512);
        var fromGguf = TextTokenizer.Load(gguf);
        Assert.Equal(bin.VocabSize, fromGguf.VocabSize);
        Assert.Equal(bin.BosId, fromGguf.BosId);
        Assert.Equal(bin.EosId, fromGguf.EosId);
        foreach (string text in new[]
                 {
                     "Once upon a time, there was a little girl named Lily.", "", " ", "  two  spaces", "tabs\tand\nnewlines\n\n",
                     "UPPER lower 12345 !?.,;:'\"", "caf\u00e9 na\u00efve \u00fc\u00df", "\U0001F600 emoji and \u4e2d\u6587", "<s> </s> <0x41>", "a,,b",
                 })
        {
            Assert.Equal(bin.Encode(text), fromGguf.Encode(text));
            int[] ids = bin.Encode(text, addBos: false);
            Assert.Equal(bin.Decode(ids), fromGguf.Decode(ids));
        }
        using var model = LlamaModel.Load(gguf);
        fromGguf.EnsureFits(model);
    }

    private string Write(GgufWriter g, string name = "bad.gguf")
    {
        string path = _dir.File(name);
        g.Write(path);
        return path;
    }

    private static GgufWriter Valid() => GgufWriter.FromModel(TestModel.Random(BlockShape, seed: 25), "F32", GgufWriter.SmallVocabulary(BlockShape.VocabSize));

    private static void AssertRefused(string path, string field, string contains, bool tokenizer = false)
    {
        var e = Assert.Throws<ModelLoadException>(() =>
        {
            if (tokenizer) TextTokenizer.Load(path);
            else LlamaModel.Load(path).Dispose();
        });
        Assert.Equal(path, e.FilePath);
        Assert.Equal(field, e.Field);
        Assert.Contains(contains, e.Message);
        Assert.StartsWith($"{path}: {field}: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ValidFileLoadsWithItsVocabulary()
    {
        string path = Write(Valid(), "ok.gguf");
        using var model = LlamaModel.Load(path);
        var tokenizer = TextTokenizer.Load(path);
        tokenizer.EnsureFits(model);
        // "▁a" is piece 30 of the made-up vocabulary, "b" piece 5.
        Assert.Equal(new[] { 1, 30, 5 }, tokenizer.Encode("ab"));
        Assert.Equal(model.Config, LlamaModel.ReadConfig(path));
    }

    [Theory]
    [InlineData("general.architecture", "qwen2", "'qwen2' is not supported")]
    [InlineData("llama.rope.scaling.type", "yarn", "'yarn' is not supported")]
    [InlineData("llama.expert_count", 8, "mixture of experts")]
    [InlineData("llama.rope.dimension_count", 8, "expected the head size")]
    [InlineData("llama.attention.key_length", 8, "expected the head size")]
    [InlineData("llama.embedding_length", "64", "expected a 32-bit integer")]
    [InlineData("llama.vocab_size", 41, "disagrees with token_embd.weight's 40 rows")]
    [InlineData("general.alignment", 24, "power of two")]
    public void MathChangingOrMalformedKeysAreRefused(string key, object value, string contains) =>
        AssertRefused(Write(Valid().Set(key, value)), key, contains);

    [Theory]
    [InlineData("llama.attention.layer_norm_rms_epsilon")]
    [InlineData("llama.block_count")]
    [InlineData("general.architecture")]
    public void MissingKeysAreNamed(string key) => AssertRefused(Write(Valid().Remove(key)), key, "missing");

    [Fact]
    public void LinearRopeScalingIsRead()
    {
        string path = Write(Valid().Set("llama.rope.scaling.type", "linear").Set("llama.rope.scaling.factor", 4f));
        Assert.Equal(RopeScaling.Linear(4), LlamaModel.ReadConfig(path).RopeScaling);
        AssertRefused(Write(Valid().Set("llama.rope.scaling.type", "linear"), "nofactor.gguf"), "llama.rope.scaling.factor", "missing");
    }

    [Theory]
    [InlineData("blk.0.attn_q.bias", "not part of a llama model")]
    [InlineData("rope_freqs.weight", "RoPE frequency factors")]
    public void TensorsTheRuntimeWouldIgnoreAreRefused(string name, string contains) =>
        AssertRefused(Write(Valid().Tensor(name, new float[64], 0, 64, "F32")), name, contains);

    [Fact]
    public void UnsupportedTensorTypeIsNamed()
    {
        // Q4_K: blocks of 256 elements in 144 bytes.
        var g = Valid().RawTensor("blk.9.ffn_up.weight", [256, 1], 12, new byte[144]);
        AssertRefused(Write(g), "blk.9.ffn_up.weight", "tensor type Q4_K is not supported");
    }

    [Fact]
    public void WrongShapeIsNamed()
    {
        // ffn_down is [dim, hidden] = ne [96, 64]; written transposed.
        string path = Write(Valid().Tensor("blk.1.ffn_down.weight", new float[64 * 96], 96, 64, "F32"));
        AssertRefused(path, "blk.1.ffn_down.weight", "expected [96, 64] (fastest first)");
    }

    [Fact]
    public void DuplicateTensorIsNamed() =>
        AssertRefused(Write(Valid().RawTensor("output_norm.weight", [64], 0, new byte[256])), "output_norm.weight", "tensor name appears twice");

    [Fact]
    public void ByteLevelVocabularyIsRefusedInOneLine() =>
        AssertRefused(Write(Valid().Set("tokenizer.ggml.model", "gpt2")), "tokenizer.ggml.model", "'gpt2' is not supported", tokenizer: true);

    [Fact]
    public void TokenTypesOutOfRangeAreRefused()
    {
        var v = GgufWriter.SmallVocabulary(40);
        v.Types[7] = 9;
        AssertRefused(Write(Valid().Set("tokenizer.ggml.token_type", v.Types)), "tokenizer.ggml.token_type", "token 7: type 9", tokenizer: true);
    }

    /// <summary>The shapes llama.cpp's parser had CVEs for, each refused before any allocation it asks for.</summary>
    [Fact]
    public void HostileCountsLengthsAndOffsetsAreRefused()
    {
        byte[] valid = File.ReadAllBytes(Write(Valid(), "v.gguf"));
        void Refused(string name, byte[] bytes, string field, string contains)
        {
            string path = _dir.File(name + ".gguf");
            File.WriteAllBytes(path, bytes);
            AssertRefused(path, field, contains);
        }
        byte[] With(int offset, ulong value)
        {
            var b = (byte[])valid.Clone();
            BitConverter.TryWriteBytes(b.AsSpan(offset), value);
            return b;
        }
        Refused("version", With(4, 1), "version", "version 1 is not supported");
        Refused("tensors", With(8, ulong.MaxValue), "tensor_count", "do not fit");
        Refused("kvs", With(16, 1UL << 40), "metadata_kv_count", "do not fit");
        Refused("keylength", With(24, ulong.MaxValue - 3), "metadata key 0", "runs past the end");
        int last = IndexOf(valid, "output_norm.weight"u8) + "output_norm.weight".Length;
        Refused("truncated", valid[..(last + 6)], "output_norm.weight", "truncated");

        // An array count far beyond the file: the first array is tokenizer.ggml.tokens.
        int tokens = IndexOf(valid, "tokenizer.ggml.tokens"u8) + "tokenizer.ggml.tokens".Length + 8;
        Refused("array", With(tokens, 1UL << 60), "tokenizer.ggml.tokens", "do not fit");

        // Tensor infos: dimensions that overflow, an offset past the end, and two tensors on the same bytes.
        int embd = IndexOf(valid, "token_embd.weight"u8) + "token_embd.weight".Length; // n_dims, ne0, ne1, type, offset
        Refused("dims", With(embd + 4 + 8, int.MaxValue), "token_embd.weight", "needs more bytes");
        Refused("offset", With(embd + 4 + 16 + 4, 1UL << 40), "token_embd.weight", "lies outside");
        int norm = IndexOf(valid, "blk.0.attn_norm.weight"u8) + "blk.0.attn_norm.weight".Length;
        Refused("overlap", With(norm + 4 + 8 + 4, 0), "blk.0.attn_norm.weight", "overlaps tensor token_embd.weight");
        Refused("misaligned", With(norm + 4 + 8 + 4, 4), "blk.0.attn_norm.weight", "not a multiple of the alignment");
    }

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);

    [Fact]
    public void LayerMaskLoadsOnlyTheKeptLayers()
    {
        string path = Write(Valid(), "mask.gguf");
        using var model = LlamaModel.Load(path, new ModelLoadOptions { Layers = LayerMask.FromFlags([true, false]) });
        Assert.True(model.IsLayerLoaded(0));
        Assert.False(model.IsLayerLoaded(1));
    }
}
