using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// Every bad model, tokenizer or prompt gives the documented exception (almost always
/// <see cref="ModelLoadException"/>) naming the file and the field, never a crash or another exception type;
/// the CLI turns them into one line on stderr without a stack trace (tests/FiRST.Cli.Tests/CliBadInputTests).
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private static readonly ModelConfig Small = new()
    {
        Dim = 16, HiddenDim = 32, NLayers = 2, NHeads = 2, NKvHeads = 1, VocabSize = 32, MaxSeqLen = 16,
    };

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "first-badinput-" + Guid.NewGuid().ToString("N"));

    public BadInputTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    private string TempPath(string name) => Path.Combine(_dir, name);

    private static ModelLoadException LoadFails(string path)
    {
        var ex = Assert.Throws<ModelLoadException>(() => { using var m = LlamaModel.Load(path); });
        Assert.Contains(ex.FilePath, ex.Message);
        return ex;
    }

    // ---------------------------------------------------------------- llama2.c .bin

    private string WriteSmallLlama2c(string name = "model.bin", ModelConfig? config = null, int seed = 1)
    {
        string path = TempPath(name);
        TestModel.Random(config ?? Small, seed).WriteLlama2c(path);
        return path;
    }

    private string WriteHeader(string name, int[] header, long extraBytes = 0) => TestModel.WriteHeader(TempPath(name), header, extraBytes);

    private static int[] SmallHeader() => [Small.Dim, Small.HiddenDim, Small.NLayers, Small.NHeads, Small.NKvHeads, Small.VocabSize, Small.MaxSeqLen];

    private static long SmallFileBytes => 28 + 4 * FiRST.Runtime.Loading.Llama2cCheckpoint.FloatCount(Small);

    [Fact]
    public void Llama2c_ValidSmallModel_Loads()
    {
        // The baseline the corruptions below start from.
        string path = WriteSmallLlama2c();
        Assert.Equal(SmallFileBytes, new FileInfo(path).Length);
        using var model = LlamaModel.Load(path);
        Assert.Equal(Small, model.Config);
        Assert.Equal(Small, LlamaModel.ReadConfig(path));
    }

    [Fact]
    public void Llama2c_MissingFile()
    {
        string path = TempPath("does-not-exist.bin");
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Contains("file not found", ex.Message);
        Assert.Equal(path, Assert.Throws<ModelLoadException>(() => LlamaModel.ReadConfig(path)).FilePath);
    }

    [Fact]
    public void Llama2c_EmptyFile()
    {
        string path = TempPath("empty.bin");
        File.WriteAllBytes(path, []);
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public void Llama2c_TruncatedHeader()
    {
        string path = TempPath("ten.bin");
        File.WriteAllBytes(path, new byte[] { 16, 0, 0, 0, 32, 0, 0, 0, 2, 0 });
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("header", ex.Field);
        Assert.Contains("truncated", ex.Message);
        Assert.Equal("header", Assert.Throws<ModelLoadException>(() => LlamaModel.ReadConfig(path)).Field);
    }

    [Fact]
    public void Llama2c_HeaderOnly_WeightsMissing()
    {
        string path = WriteHeader("header-only.bin", SmallHeader());
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("size", ex.Field);
        Assert.Contains("truncated", ex.Message);
        Assert.Contains($"needs {SmallFileBytes} bytes", ex.Message);
        Assert.Contains("the file has 28", ex.Message);
        // The header alone is valid: ReadConfig only reads the header.
        Assert.Equal(Small, LlamaModel.ReadConfig(path));
    }

    [Theory]
    [InlineData(-1, "truncated")]
    [InlineData(-4096, "truncated")]
    [InlineData(4, "longer than its header says")]
    [InlineData(1, "longer than its header says")]
    public void Llama2c_WrongLength(int delta, string problem)
    {
        string path = WriteSmallLlama2c();
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length + delta);
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("size", ex.Field);
        Assert.Contains(problem, ex.Message);
        Assert.Contains($"the file has {SmallFileBytes + delta}", ex.Message);
    }

    [Theory]
    [InlineData(0, 32)]   // dim 16 -> 32
    [InlineData(1, 64)]   // hidden_dim 32 -> 64
    [InlineData(2, 3)]    // n_layers 2 -> 3
    [InlineData(4, 2)]    // n_kv_heads 1 -> 2
    [InlineData(5, -32)]  // shared classifier -> separate (one more [vocab, dim] matrix expected)
    [InlineData(6, 8)]    // max_seq_len 16 -> 8 (smaller RoPE tables: the file is too long)
    public void Llama2c_HeaderDoesNotMatchFileSize(int field, int value)
    {
        string path = WriteSmallLlama2c();
        using (var f = new FileStream(path, FileMode.Open))
        {
            f.Position = 4 * field;
            var b = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, value);
            f.Write(b);
        }
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("size", ex.Field);
        Assert.Contains($"the file has {SmallFileBytes}", ex.Message);
    }

    [Theory]
    [InlineData(new[] { -16, 32, 2, 2, 1, 32, 16 }, "dim")]
    [InlineData(new[] { 0, 32, 2, 2, 1, 32, 16 }, "dim")]
    [InlineData(new[] { 16, -1, 2, 2, 1, 32, 16 }, "hidden_dim")]
    [InlineData(new[] { 16, 32, 0, 2, 1, 32, 16 }, "n_layers")]
    [InlineData(new[] { 16, 32, -2, 2, 1, 32, 16 }, "n_layers")]
    [InlineData(new[] { 16, 32, 2, 0, 1, 32, 16 }, "n_heads")]
    [InlineData(new[] { 16, 32, 2, 3, 1, 32, 16 }, "n_heads")]      // 3 does not divide 16
    [InlineData(new[] { 18, 32, 2, 2, 1, 32, 16 }, "n_heads")]      // head size 9 is odd
    [InlineData(new[] { 16, 32, 2, 16, 1, 32, 16 }, "n_heads")]     // head size 1 is odd
    [InlineData(new[] { 16, 32, 2, 2, 0, 32, 16 }, "n_kv_heads")]
    [InlineData(new[] { 16, 32, 2, 4, 3, 32, 16 }, "n_kv_heads")]   // 3 does not divide 4
    [InlineData(new[] { 16, 32, 2, 2, 4, 32, 16 }, "n_kv_heads")]   // more KV heads than heads
    [InlineData(new[] { 16, 32, 2, 2, 1, 0, 16 }, "vocab_size")]
    [InlineData(new[] { 16, 32, 2, 2, 1, 32, 0 }, "max_seq_len")]
    [InlineData(new[] { 16, 32, 2, 2, 1, 32, -16 }, "max_seq_len")]
    public void Llama2c_InvalidDimensions(int[] header, string field)
    {
        // Padded to the size a valid header would need, so only the value itself can be what is rejected.
        string path = WriteHeader("bad-dims.bin", header, SmallFileBytes - 28);
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(field, ex.Field);
        Assert.Contains(field, ex.Message);
        var ex2 = Assert.Throws<ModelLoadException>(() => LlamaModel.ReadConfig(path));
        Assert.Equal(field, ex2.Field);
    }

    [Theory]
    [InlineData(new[] { 1 << 30, 32, 2, 2, 1, 32, 16 }, "dim")]
    [InlineData(new[] { 16, int.MaxValue, 2, 2, 1, 32, 16 }, "hidden_dim")]
    [InlineData(new[] { 16, 32, 1 << 30, 2, 1, 32, 16 }, "n_layers")]
    [InlineData(new[] { 16, 32, 2, 2, 1, int.MinValue, 16 }, "vocab_size")]
    [InlineData(new[] { 16, 32, 2, 2, 1, int.MaxValue, 16 }, "vocab_size")]
    [InlineData(new[] { 16, 32, 2, 2, 1, 32, int.MaxValue }, "max_seq_len")]
    [InlineData(new[] { 1 << 20, 1 << 20, 4096, 2, 1, 1 << 20, 1 << 20 }, "size")] // each value in range; the product is not in the file
    public void Llama2c_AbsurdDimensions_RejectedBeforeAllocating(int[] header, string field)
    {
        string path = WriteHeader("absurd.bin", header);
        Assert.Equal(28, new FileInfo(path).Length);
        LoadFails(path); // warm up (JIT, type loading), so only the rejection itself is counted below

        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ModelLoadException>(() => { using var m = LlamaModel.Load(path); });
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal(path, ex.FilePath);
        Assert.Equal(field, ex.Field);
        Assert.True(allocated < 1 << 20, $"rejecting a 28-byte file allocated {allocated} bytes");
    }

    [Fact]
    public void Llama2c_UnknownExportVersion_IsNamed()
    {
        // llama2.c's versioned exports start with the magic "ak42" (0x616b3432), then a version (1 or 2).
        string path = WriteHeader("v3.bin", [0x616b3432, 3, 16, 32, 2, 2, 1], 256);
        var ex = LoadFails(path);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal("version", ex.Field);
        Assert.Contains("version 3", ex.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Llama2c_VersionedHeaderWithoutWeights_IsTruncated(int version)
    {
        // magic, version, dim 16, hidden 32, layers 2, heads 2, kv heads 1, vocab 32, seq 16; shared flag 1; group size 8.
        var header = new byte[256];
        int[] fields = [0x616b3432, version, 16, 32, 2, 2, 1, 32, 16];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 * i), fields[i]);
        header[36] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(37), 8);
        string path = TempPath($"v{version}.bin");
        File.WriteAllBytes(path, header);
        var ex = LoadFails(path);
        Assert.Equal("size", ex.Field);
        Assert.Contains("truncated", ex.Message);
        Assert.Contains($"v{version} header", ex.Message);
    }

    [Fact]
    public void Llama2c_V2GroupSizeThatDoesNotDivideTheRows_IsRejected()
    {
        var header = new byte[256];
        int[] fields = [0x616b3432, 2, 16, 32, 2, 2, 1, 32, 16];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 * i), fields[i]);
        header[36] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(37), 12);
        string path = TempPath("v2gs.bin");
        File.WriteAllBytes(path, header);
        var ex = LoadFails(path);
        Assert.Equal("group_size", ex.Field);
    }

    // ---------------------------------------------------------------- safetensors

    private string WriteSmallSafetensors(string name = "hf")
    {
        string dir = TempPath(name);
        TestModel.Random(Small, 2).WriteSafetensors(dir, "F32");
        return dir;
    }

    /// <summary>The tensors <see cref="TestModel.WriteSafetensors"/> writes (values unpermuted: only names and shapes matter here).</summary>
    private static List<(string Name, long[] Shape, float[] Data)> SmallTensors()
    {
        var m = TestModel.Random(Small, 3);
        var c = m.Config;
        var t = new List<(string Name, long[] Shape, float[] Data)>
        {
            ("model.embed_tokens.weight", [c.VocabSize, c.Dim], m.Embedding),
            ("model.norm.weight", [c.Dim], m.RmsFinal),
        };
        for (int l = 0; l < c.NLayers; l++)
        {
            string p = $"model.layers.{l}.";
            t.Add((p + "input_layernorm.weight", [c.Dim], m.RmsAtt[l]));
            t.Add((p + "self_attn.q_proj.weight", [c.Dim, c.Dim], m.Wq[l]));
            t.Add((p + "self_attn.k_proj.weight", [c.KvDim, c.Dim], m.Wk[l]));
            t.Add((p + "self_attn.v_proj.weight", [c.KvDim, c.Dim], m.Wv[l]));
            t.Add((p + "self_attn.o_proj.weight", [c.Dim, c.Dim], m.Wo[l]));
            t.Add((p + "post_attention_layernorm.weight", [c.Dim], m.RmsFfn[l]));
            t.Add((p + "mlp.gate_proj.weight", [c.HiddenDim, c.Dim], m.W1[l]));
            t.Add((p + "mlp.down_proj.weight", [c.Dim, c.HiddenDim], m.W2[l]));
            t.Add((p + "mlp.up_proj.weight", [c.HiddenDim, c.Dim], m.W3[l]));
        }
        return t;
    }

    private static void EditConfig(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>Rewrites the JSON header of a safetensors file, keeping its data bytes.</summary>
    private static void EditHeader(string file, Action<JsonObject, long> edit)
    {
        byte[] bytes = File.ReadAllBytes(file);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))!.AsObject();
        byte[] data = bytes[(8 + (int)headerLength)..];
        edit(header, data.Length);
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var f = File.Create(file);
        var b8 = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b8, (ulong)json.Length);
        f.Write(b8);
        f.Write(json);
        f.Write(data);
    }

    [Fact]
    public void Safetensors_ValidSmallModel_Loads()
    {
        string dir = WriteSmallSafetensors();
        using (var model = LlamaModel.Load(dir))
        {
            Assert.Equal(Small.Dim, model.Config.Dim);
            Assert.Equal(Small.NLayers, model.Config.NLayers);
        }
        // Our own header rewrite must keep a file loadable, or the corruptions below prove nothing.
        EditHeader(Path.Combine(dir, "model.safetensors"), (_, _) => { });
        using var again = LlamaModel.Load(dir);
        Assert.Equal(Small.VocabSize, again.Config.VocabSize);
        // And so must tensors written one by one.
        string dir2 = TempPath("hf2");
        Directory.CreateDirectory(dir2);
        File.Copy(Path.Combine(dir, "config.json"), Path.Combine(dir2, "config.json"));
        TestModel.WriteSafetensorsFile(Path.Combine(dir2, "model.safetensors"), SmallTensors(), "F32");
        using var third = LlamaModel.Load(dir2);
        Assert.Equal(Small.HiddenDim, third.Config.HiddenDim);
    }

    [Fact]
    public void Safetensors_MissingConfig()
    {
        string dir = WriteSmallSafetensors();
        string config = Path.Combine(dir, "config.json");
        File.Delete(config);
        var ex = LoadFails(dir);
        Assert.Equal(config, ex.FilePath);
        Assert.Contains("not found", ex.Message);
        Assert.Equal(config, Assert.Throws<ModelLoadException>(() => LlamaModel.ReadConfig(dir)).FilePath);
    }

    [Fact]
    public void Safetensors_ConfigInvalidJson_MentionsLine()
    {
        string dir = WriteSmallSafetensors();
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 16,,\n}\n");
        var ex = LoadFails(dir);
        Assert.Equal(config, ex.FilePath);
        Assert.Contains("invalid JSON", ex.Message);
        Assert.Contains("line 3", ex.Message);
    }

    [Fact]
    public void Safetensors_ConfigNotAnObject()
    {
        string dir = WriteSmallSafetensors();
        File.WriteAllText(Path.Combine(dir, "config.json"), "[1, 2, 3]");
        var ex = LoadFails(dir);
        Assert.Equal(Path.Combine(dir, "config.json"), ex.FilePath);
        Assert.Contains("object", ex.Message);
    }

    [Fact]
    public void Safetensors_ConfigModelTypeGpt2()
    {
        string dir = WriteSmallSafetensors();
        EditConfig(dir, c => c["model_type"] = "gpt2");
        var ex = LoadFails(dir);
        Assert.Equal(Path.Combine(dir, "config.json"), ex.FilePath);
        Assert.Equal("model_type", ex.Field);
        Assert.Contains("gpt2", ex.Message);
    }

    [Theory]
    [InlineData("hidden_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("vocab_size")]
    public void Safetensors_ConfigMissingField(string field)
    {
        string dir = WriteSmallSafetensors();
        EditConfig(dir, c => Assert.True(c.Remove(field)));
        var ex = LoadFails(dir);
        Assert.Equal(Path.Combine(dir, "config.json"), ex.FilePath);
        Assert.Equal(field, ex.Field);
        Assert.Contains("missing", ex.Message);
    }

    [Theory]
    [InlineData("hidden_size", "\"sixteen\"")]
    [InlineData("hidden_size", "16.5")]
    [InlineData("num_attention_heads", "3")]
    [InlineData("hidden_size", "1e12")]
    [InlineData("rms_norm_eps", "\"small\"")]
    public void Safetensors_ConfigBadValue(string field, string json)
    {
        string dir = WriteSmallSafetensors();
        EditConfig(dir, c => c[field] = JsonNode.Parse(json));
        var ex = LoadFails(dir);
        Assert.Equal(Path.Combine(dir, "config.json"), ex.FilePath);
        // num_attention_heads 3 does not divide hidden_size 16: Validate names its own field for that.
        Assert.Equal(field == "num_attention_heads" ? "n_heads" : field, ex.Field);
    }

    [Fact]
    public void Safetensors_MissingWeightsFile()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        File.Delete(file);
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Contains("not found", ex.Message);
    }

    [Fact]
    public void Safetensors_HeaderLengthLargerThanFile()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        long length = new FileInfo(file).Length;
        using (var f = new FileStream(file, FileMode.Open))
        {
            var b8 = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b8, (ulong)length);
            f.Write(b8);
        }
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("header", ex.Field);
        Assert.Contains($"header length {length}", ex.Message);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(0UL)]
    [InlineData(1UL << 63)]
    public void Safetensors_HeaderLengthAbsurd(ulong headerLength)
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        using (var f = new FileStream(file, FileMode.Open))
        {
            var b8 = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b8, headerLength);
            f.Write(b8);
        }
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("header", ex.Field);
    }

    [Fact]
    public void Safetensors_FileShorterThanHeaderLength()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        File.WriteAllBytes(file, [1, 2, 3]);
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("header", ex.Field);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Safetensors_HeaderNotJson()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        byte[] junk = Encoding.UTF8.GetBytes("this is not JSON at all!");
        var bytes = new byte[8 + junk.Length + 64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)junk.Length);
        junk.CopyTo(bytes, 8);
        File.WriteAllBytes(file, bytes);
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("header", ex.Field);
        Assert.Contains("invalid JSON", ex.Message);
    }

    [Fact]
    public void Safetensors_HeaderNotAnObject()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        byte[] json = Encoding.UTF8.GetBytes("[\"model.norm.weight\"]");
        var bytes = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(file, bytes);
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("header", ex.Field);
    }

    [Theory]
    [InlineData("I8")]
    [InlineData("F64")]
    [InlineData("U8")]
    public void Safetensors_UnsupportedDType(string dtype)
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        EditHeader(file, (h, _) => h["model.norm.weight"]!["dtype"] = dtype);
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("model.norm.weight", ex.Field);
        Assert.Contains(dtype, ex.Message);
        Assert.Contains("not supported", ex.Message);
    }

    [Fact]
    public void Safetensors_ShapeDoesNotMatchConfig()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        const string name = "model.layers.1.self_attn.q_proj.weight";
        var tensors = SmallTensors();
        int i = tensors.FindIndex(t => t.Name == name);
        tensors[i] = (name, [Small.Dim / 2, Small.Dim * 2], tensors[i].Data); // same element count, wrong shape
        TestModel.WriteSafetensorsFile(file, tensors, "F32");
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal(name, ex.Field);
        Assert.Contains("[8, 32]", ex.Message);
        Assert.Contains("[16, 16]", ex.Message);
    }

    [Fact]
    public void Safetensors_ShapeDisagreesWithByteRange()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        EditHeader(file, (h, _) => h["model.norm.weight"]!["shape"] = new JsonArray(17));
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("model.norm.weight", ex.Field);
    }

    [Theory]
    [InlineData("past-end")]  // 16 floats starting right after the last data byte
    [InlineData("negative")]
    [InlineData("reversed")]  // end before begin
    [InlineData("huge")]
    public void Safetensors_DataOffsetsOutsideFile(string kind)
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        EditHeader(file, (h, dataLength) => h["model.norm.weight"]!["data_offsets"] = kind switch
        {
            "past-end" => new JsonArray(dataLength, dataLength + 64),
            "negative" => new JsonArray(-64, 0),
            "reversed" => new JsonArray(64, 0),
            _ => new JsonArray(0, long.MaxValue),
        });
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("model.norm.weight", ex.Field);
        Assert.Contains("outside", ex.Message);
    }

    [Fact]
    public void Safetensors_MissingTensor()
    {
        string dir = WriteSmallSafetensors();
        string file = Path.Combine(dir, "model.safetensors");
        TestModel.WriteSafetensorsFile(file, SmallTensors().Where(t => t.Name != "model.norm.weight").ToList(), "F32");
        var ex = LoadFails(dir);
        Assert.Equal(file, ex.FilePath);
        Assert.Equal("model.norm.weight", ex.Field);
        Assert.Contains("not found", ex.Message);
    }

    [Fact]
    public void Safetensors_MissingLmHead_WhenNotTied()
    {
        // WriteSafetensors writes tie_word_embeddings = true for Small; untie it without adding lm_head.
        string dir = WriteSmallSafetensors();
        EditConfig(dir, c => c["tie_word_embeddings"] = false);
        var ex = LoadFails(dir);
        Assert.Equal(Path.Combine(dir, "model.safetensors"), ex.FilePath);
        Assert.Equal("lm_head.weight", ex.Field);
    }

    // ---------------------------------------------------------------- tokenizers

    private static ModelLoadException TokenizerFails(string path)
    {
        var ex = Assert.Throws<ModelLoadException>(() => TextTokenizer.Load(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message);
        return ex;
    }

    [Theory]
    [InlineData("missing.bin")]
    [InlineData("missing.model")]
    public void Tokenizer_MissingFile(string name)
    {
        var ex = TokenizerFails(TempPath(name));
        Assert.Contains("not found", ex.Message);
    }

    [Fact]
    public void Tokenizer_TruncatedBin()
    {
        SharedModels.Require();
        byte[] full = File.ReadAllBytes(SharedModels.Tok512);
        string path = TempPath("tok-half.bin");
        File.WriteAllBytes(path, full[..(full.Length / 2)]);
        var ex = TokenizerFails(path);
        Assert.StartsWith("token ", ex.Field);
        Assert.Contains("truncated", ex.Message);
        // The untouched copy loads: the cut is what is rejected.
        File.WriteAllBytes(path, full);
        Assert.Equal(512, TextTokenizer.Load(path).VocabSize);
    }

    [Theory]
    [InlineData(-5)]
    [InlineData(0)]
    [InlineData(int.MinValue)]
    [InlineData(1 << 30)]
    public void Tokenizer_BadMaxTokenLength(int maxLen)
    {
        SharedModels.Require();
        byte[] bytes = File.ReadAllBytes(SharedModels.Tok512);
        BinaryPrimitives.WriteInt32LittleEndian(bytes, maxLen);
        string path = TempPath("tok-maxlen.bin");
        File.WriteAllBytes(path, bytes);
        var ex = TokenizerFails(path);
        Assert.Equal("max_token_length", ex.Field);
        Assert.Contains(maxLen.ToString(), ex.Message);
    }

    /// <summary>A llama2.c tokenizer .bin: max_token_length then (score, length, bytes) per piece; lengths as given.</summary>
    private string WriteTokenizerBin(string name, int maxLen, params (float Score, int Length, byte[] Bytes)[] pieces)
    {
        string path = TempPath(name);
        using var w = new BinaryWriter(File.Create(path));
        w.Write(maxLen);
        foreach (var p in pieces)
        {
            w.Write(p.Score);
            w.Write(p.Length);
            w.Write(p.Bytes);
        }
        return path;
    }

    private static (float, int, byte[]) Piece(string s, float score = 0) => (score, Encoding.UTF8.GetByteCount(s), Encoding.UTF8.GetBytes(s));

    [Fact]
    public void Tokenizer_HandWrittenBin_Loads()
    {
        // Baseline for the corruptions below.
        string path = WriteTokenizerBin("tiny.bin", 10, Piece("<unk>"), Piece("\n<s>\n"), Piece("\n</s>\n"), Piece("a", -1), Piece("b", -2), Piece(" ", -3));
        var tok = TextTokenizer.Load(path);
        Assert.Equal(6, tok.VocabSize);
        Assert.Equal([1, 5, 3, 4], tok.Encode("ab"));
    }

    [Fact]
    public void Tokenizer_PieceLongerThanRemainingBytes()
    {
        string path = WriteTokenizerBin("piece-cut.bin", 10, Piece("<unk>"), Piece("\n<s>\n"), Piece("\n</s>\n"), (0f, 8, "ab"u8.ToArray()));
        var ex = TokenizerFails(path);
        Assert.Equal("token 3", ex.Field);
        Assert.Contains("truncated", ex.Message);
        Assert.Contains("needs 8 bytes, 2 remain", ex.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(11)]
    [InlineData(int.MaxValue)]
    public void Tokenizer_PieceLengthOutOfRange(int length)
    {
        string path = WriteTokenizerBin("piece-len.bin", 10, Piece("<unk>"), Piece("\n<s>\n"), Piece("\n</s>\n"), (0f, length, new byte[12]));
        var ex = TokenizerFails(path);
        Assert.Equal("token 3", ex.Field);
        Assert.Contains("max_token_length", ex.Message);
    }

    [Fact]
    public void Tokenizer_TooFewTokens()
    {
        string path = WriteTokenizerBin("two.bin", 10, Piece("<unk>"), Piece("\n<s>\n"));
        var ex = TokenizerFails(path);
        Assert.Contains("only 2 tokens", ex.Message);
    }

    [Fact]
    public void Tokenizer_NonFiniteScore()
    {
        string path = WriteTokenizerBin("nan.bin", 10, Piece("<unk>"), Piece("\n<s>\n"), Piece("\n</s>\n"), Piece("a", float.NaN));
        var ex = TokenizerFails(path);
        Assert.Equal("token 3", ex.Field);
    }

    [Fact]
    public void Tokenizer_DuplicatePiece()
    {
        string path = WriteTokenizerBin("dup.bin", 10, Piece("<unk>"), Piece("\n<s>\n"), Piece("\n</s>\n"), Piece("ab"), Piece("ab"));
        var ex = TokenizerFails(path);
        Assert.Equal("token 4", ex.Field);
        Assert.Contains("twice", ex.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Tokenizer_GarbageSentencePieceModel(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        string path = TempPath($"garbage{seed}.model");
        File.WriteAllBytes(path, bytes);
        TokenizerFails(path);
    }

    [Fact]
    public void Tokenizer_TruncatedSentencePieceModel()
    {
        SharedModels.Require();
        byte[] full = File.ReadAllBytes(SharedModels.Llama2Model);
        string path = TempPath("half.model");
        File.WriteAllBytes(path, full[..(full.Length / 2)]);
        TokenizerFails(path);
    }

    [Fact]
    public void Tokenizer_EmptyFiles()
    {
        string bin = TempPath("empty.bin"), model = TempPath("empty.model");
        File.WriteAllBytes(bin, []);
        File.WriteAllBytes(model, []);
        Assert.Equal("max_token_length", TokenizerFails(bin).Field);
        TokenizerFails(model);
    }

    // ---------------------------------------------------------------- prompt longer than the context

    private static readonly ModelConfig ShortContext = Small with { VocabSize = 512, MaxSeqLen = 8 };

    private const string LongPrompt = "Once upon a time there was a little girl who liked to play in the park with her dog";

    [Fact]
    public void Generate_PromptTooLong_ThrowsBeforeAnyToken()
    {
        SharedModels.Require();
        string path = WriteSmallLlama2c("short.bin", ShortContext);
        using var model = LlamaModel.Load(path);
        var tokenizer = TextTokenizer.Load(SharedModels.Tok512);
        var generator = new TextGenerator(model, tokenizer);
        int promptTokens = tokenizer.Encode(LongPrompt).Length;
        Assert.True(promptTokens > 8, $"the prompt is only {promptTokens} tokens");

        // Generate itself throws: there is no run to enumerate, so no token can have been produced.
        var ex = Assert.Throws<PromptTooLongException>(() => generator.Generate(LongPrompt, new GenerationOptions { Sampling = new() { Temperature = 0 } }));
        Assert.Equal(promptTokens, ex.PromptTokens);
        Assert.Equal(8, ex.MaxSeqLen);
        Assert.Contains("8", ex.Message);
        Assert.IsAssignableFrom<FiRSTException>(ex);
    }

    [Fact]
    public void Generate_PromptExactlyContext_IsAccepted_OneMoreIsNot()
    {
        SharedModels.Require();
        string path = WriteSmallLlama2c("short.bin", ShortContext);
        using var model = LlamaModel.Load(path);
        var generator = new TextGenerator(model, TextTokenizer.Load(SharedModels.Tok512));
        var options = new GenerationOptions { Sampling = new() { Temperature = 0 }, MaxSteps = 0, StopTokens = [] };

        int[] eight = [1, 10, 20, 30, 40, 50, 60, 70];
        var run = generator.Generate(eight, options);
        var tokens = run.ToList();
        Assert.Single(tokens); // the last position predicts one token, then the context is full
        Assert.Equal(StopReason.ContextFull, run.Stats.StopReason);

        var ex = Assert.Throws<PromptTooLongException>(() => generator.Generate([.. eight, 80], options));
        Assert.Equal(9, ex.PromptTokens);
    }
}
