using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace FiRST.Runtime.Tests.Support;

/// <summary>
/// A Llama model held as plain float arrays (llama2.c layout, row-major [out, in]), independent of the
/// runtime: made from a seed or read from a llama2.c file by a reader written separately from the runtime's,
/// and written back as llama2.c .bin or Hugging Face safetensors for the loaders under test.
/// </summary>
internal sealed class TestModel
{
    public required ModelConfig Config { get; init; }
    public required float[] Embedding { get; init; }     // [vocab, dim]
    public required float[][] RmsAtt { get; init; }      // [L][dim]
    public required float[][] Wq { get; init; }          // [L][dim * dim]
    public required float[][] Wk { get; init; }          // [L][kv * dim]
    public required float[][] Wv { get; init; }          // [L][kv * dim]
    public required float[][] Wo { get; init; }          // [L][dim * dim]
    public required float[][] RmsFfn { get; init; }      // [L][dim]
    public required float[][] W1 { get; init; }          // [L][hidden * dim]
    public required float[][] W2 { get; init; }          // [L][dim * hidden]
    public required float[][] W3 { get; init; }          // [L][hidden * dim]
    public required float[] RmsFinal { get; init; }      // [dim]
    public required float[] Classifier { get; init; }    // [vocab, dim]

    /// <summary>Random weights ~ N(0, std) (norm gains near 1), optionally rounded so F16/BF16 hold them exactly.</summary>
    public static TestModel Random(ModelConfig c, int seed, float std = 0.1f, Func<float, float>? round = null)
    {
        var rng = new Random(seed);
        round ??= x => x;
        float[] Gauss(long n, float s)
        {
            var a = new float[n];
            for (long i = 0; i < n; i++)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                a[i] = round((float)(s * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2)));
            }
            return a;
        }
        float[] Gains(int n) { var a = Gauss(n, 0.1f); for (int i = 0; i < n; i++) a[i] = round(1 + a[i]); return a; }
        float[][] PerLayer(Func<float[]> make) => Enumerable.Range(0, c.NLayers).Select(_ => make()).ToArray();
        int dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim;
        var embedding = Gauss((long)c.VocabSize * dim, std * 5);
        return new TestModel
        {
            Config = c,
            Embedding = embedding,
            RmsAtt = PerLayer(() => Gains(dim)),
            Wq = PerLayer(() => Gauss((long)dim * dim, std)),
            Wk = PerLayer(() => Gauss((long)kv * dim, std)),
            Wv = PerLayer(() => Gauss((long)kv * dim, std)),
            Wo = PerLayer(() => Gauss((long)dim * dim, std)),
            RmsFfn = PerLayer(() => Gains(dim)),
            W1 = PerLayer(() => Gauss((long)hid * dim, std)),
            W2 = PerLayer(() => Gauss((long)dim * hid, std)),
            W3 = PerLayer(() => Gauss((long)hid * dim, std)),
            RmsFinal = Gains(dim),
            Classifier = c.SharedClassifier ? embedding : Gauss((long)c.VocabSize * dim, std * 5),
        };
    }

    /// <summary>Reads a llama2.c v0 file with a plain sequential reader (no memory map, no shared code).</summary>
    public static TestModel ReadLlama2c(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        int dim = r.ReadInt32(), hid = r.ReadInt32(), L = r.ReadInt32(), heads = r.ReadInt32(), kvHeads = r.ReadInt32(), vocab = r.ReadInt32(), seq = r.ReadInt32();
        var c = new ModelConfig { Dim = dim, HiddenDim = hid, NLayers = L, NHeads = heads, NKvHeads = kvHeads, VocabSize = Math.Abs(vocab), MaxSeqLen = seq, SharedClassifier = vocab > 0 };
        int kv = c.KvDim;
        float[] Read(long n) { var a = new float[n]; for (long i = 0; i < n; i++) a[i] = r.ReadSingle(); return a; }
        float[][] Layers(long n) => Enumerable.Range(0, L).Select(_ => Read(n)).ToArray();
        var emb = Read((long)c.VocabSize * dim);
        var rmsAtt = Layers(dim); var wq = Layers((long)dim * dim); var wk = Layers((long)kv * dim); var wv = Layers((long)kv * dim);
        var wo = Layers((long)dim * dim); var rmsFfn = Layers(dim); var w1 = Layers((long)hid * dim); var w2 = Layers((long)dim * hid); var w3 = Layers((long)hid * dim);
        var rmsFinal = Read(dim);
        Read((long)seq * c.HeadSize);
        var cls = c.SharedClassifier ? emb : Read((long)c.VocabSize * dim);
        return new TestModel { Config = c, Embedding = emb, RmsAtt = rmsAtt, Wq = wq, Wk = wk, Wv = wv, Wo = wo, RmsFfn = rmsFfn, W1 = w1, W2 = w2, W3 = w3, RmsFinal = rmsFinal, Classifier = cls };
    }

    /// <summary>Writes llama2.c v0 (negative vocab when the classifier is separate).</summary>
    public void WriteLlama2c(string path)
    {
        var c = Config;
        using var w = new BinaryWriter(File.Create(path));
        foreach (int v in new[] { c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKvHeads, c.SharedClassifier ? c.VocabSize : -c.VocabSize, c.MaxSeqLen }) w.Write(v);
        void Put(float[] a) { foreach (float f in a) w.Write(f); }
        Put(Embedding);
        foreach (var group in new[] { RmsAtt, Wq, Wk, Wv, Wo, RmsFfn, W1, W2, W3 }) foreach (var a in group) Put(a);
        Put(RmsFinal);
        Put(new float[(long)c.MaxSeqLen * c.HeadSize]);
        if (!c.SharedClassifier) Put(Classifier);
    }

    /// <summary>
    /// Writes a Hugging Face directory (config.json + model.safetensors) in <paramref name="dtype"/>, with query
    /// and key rows permuted for rotate-half RoPE exactly as Hugging Face's conversion script does.
    /// </summary>
    public void WriteSafetensors(string directory, string dtype, Action<Dictionary<string, object?>>? editConfig = null)
    {
        Directory.CreateDirectory(directory);
        var config = HuggingFaceConfig(dtype);
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(directory, "config.json"), JsonSerializer.Serialize(config));
        WriteSafetensorsFile(Path.Combine(directory, "model.safetensors"), SafetensorsTensors(), dtype);
    }

    /// <summary>
    /// The model's config.json in transformers 4's layout (top-level rope_theta, rope_scaling null or an object
    /// with rope_type and the type's parameters); <see cref="ToTransformers5"/> turns it into transformers 5's.
    /// </summary>
    public Dictionary<string, object?> HuggingFaceConfig(string dtype)
    {
        var c = Config;
        var r = c.RopeScaling;
        object? scaling = r.Type switch
        {
            RopeScalingType.Linear => new Dictionary<string, object> { ["rope_type"] = "linear", ["factor"] = r.Factor },
            RopeScalingType.Llama3 => new Dictionary<string, object>
            {
                ["rope_type"] = "llama3", ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFreqFactor,
                ["high_freq_factor"] = r.HighFreqFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings,
            },
            _ => null,
        };
        var config = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama",
            ["hidden_size"] = c.Dim, ["intermediate_size"] = c.HiddenDim, ["num_hidden_layers"] = c.NLayers,
            ["num_attention_heads"] = c.NHeads, ["num_key_value_heads"] = c.NKvHeads, ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = c.MaxSeqLen, ["rms_norm_eps"] = c.NormEps, ["rope_theta"] = c.RopeTheta,
            ["tie_word_embeddings"] = c.SharedClassifier, ["hidden_act"] = "silu", ["torch_dtype"] = dtype,
        };
        // Only when scaled, so the config.json fuzzing's unscaled seed file stays what it was.
        if (scaling is not null) config["rope_scaling"] = scaling;
        return config;
    }

    /// <summary>
    /// Rewrites a transformers 4 config.json dictionary as transformers 5 saves it: rope_theta and the scaling's
    /// fields inside rope_parameters (rope_type "default" when unscaled), torch_dtype renamed dtype.
    /// </summary>
    public static void ToTransformers5(Dictionary<string, object?> config)
    {
        var parameters = config.GetValueOrDefault("rope_scaling") is Dictionary<string, object> scaling
            ? new Dictionary<string, object>(scaling) : new Dictionary<string, object> { ["rope_type"] = "default" };
        parameters["rope_theta"] = config["rope_theta"]!;
        config.Remove("rope_scaling");
        config.Remove("rope_theta");
        config["rope_parameters"] = parameters;
        config["dtype"] = config["torch_dtype"];
        config.Remove("torch_dtype");
    }

    /// <summary>
    /// A Hugging Face sharded checkpoint: the tensors dealt in turn over <paramref name="shards"/> files (so
    /// every file holds some of every kind), and <c>model.safetensors.index.json</c> naming each tensor's file.
    /// Returns the weight map.
    /// </summary>
    public Dictionary<string, string> WriteShardedSafetensors(string directory, string dtype, int shards)
    {
        WriteSafetensors(directory, dtype);
        File.Delete(Path.Combine(directory, "model.safetensors"));
        var tensors = SafetensorsTensors();
        var weightMap = new Dictionary<string, string>();
        for (int s = 0; s < shards; s++)
        {
            string file = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            var part = tensors.Where((_, i) => i % shards == s).ToList();
            WriteSafetensorsFile(Path.Combine(directory, file), part, dtype);
            foreach (var t in part) weightMap[t.Name] = file;
        }
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, object> { ["total_size"] = tensors.Sum(t => (long)t.Data.Length * (dtype == "F32" ? 4 : 2)) },
            ["weight_map"] = weightMap,
        }));
        return weightMap;
    }

    /// <summary>The tensors of a Hugging Face Llama checkpoint, by their names there (q/k rows permuted).</summary>
    public List<(string Name, long[] Shape, float[] Data)> SafetensorsTensors()
    {
        var c = Config;
        var tensors = new List<(string Name, long[] Shape, float[] Data)>
        {
            ("model.embed_tokens.weight", [c.VocabSize, c.Dim], Embedding),
            ("model.norm.weight", [c.Dim], RmsFinal),
        };
        if (!c.SharedClassifier) tensors.Add(("lm_head.weight", [c.VocabSize, c.Dim], Classifier));
        for (int l = 0; l < c.NLayers; l++)
        {
            string p = $"model.layers.{l}.";
            tensors.Add((p + "input_layernorm.weight", [c.Dim], RmsAtt[l]));
            tensors.Add((p + "self_attn.q_proj.weight", [c.Dim, c.Dim], ToRotateHalf(Wq[l], c.NHeads, c.HeadSize, c.Dim)));
            tensors.Add((p + "self_attn.k_proj.weight", [c.KvDim, c.Dim], ToRotateHalf(Wk[l], c.NKvHeads, c.HeadSize, c.Dim)));
            tensors.Add((p + "self_attn.v_proj.weight", [c.KvDim, c.Dim], Wv[l]));
            tensors.Add((p + "self_attn.o_proj.weight", [c.Dim, c.Dim], Wo[l]));
            tensors.Add((p + "post_attention_layernorm.weight", [c.Dim], RmsFfn[l]));
            tensors.Add((p + "mlp.gate_proj.weight", [c.HiddenDim, c.Dim], W1[l]));
            tensors.Add((p + "mlp.down_proj.weight", [c.Dim, c.HiddenDim], W2[l]));
            tensors.Add((p + "mlp.up_proj.weight", [c.HiddenDim, c.Dim], W3[l]));
        }
        return tensors;
    }

    /// <summary>Hugging Face's <c>permute</c>: w.view(heads, hs/2, 2, in).transpose(1, 2).reshape(out, in).</summary>
    public static float[] ToRotateHalf(float[] w, int heads, int headSize, int cols)
    {
        var result = new float[w.Length];
        int half = headSize / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    Array.Copy(w, (long)(h * headSize + 2 * i + j) * cols, result, (long)(h * headSize + j * half + i) * cols, cols);
        return result;
    }

    public static void WriteSafetensorsFile(string path, List<(string Name, long[] Shape, float[] Data)> tensors, string dtype)
    {
        int size = dtype == "F32" ? 4 : 2;
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var t in tensors)
        {
            long bytes = (long)t.Data.Length * size;
            header[t.Name] = new Dictionary<string, object> { ["dtype"] = dtype, ["shape"] = t.Shape, ["data_offsets"] = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8;
        using var f = File.Create(path);
        Span<byte> b8 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b8, (ulong)(json.Length + pad));
        f.Write(b8);
        f.Write(json);
        for (int i = 0; i < pad; i++) f.WriteByte((byte)' ');
        Span<byte> b4 = stackalloc byte[4];
        foreach (var t in tensors)
            foreach (float x in t.Data)
            {
                switch (dtype)
                {
                    case "F32": BinaryPrimitives.WriteSingleLittleEndian(b4, x); f.Write(b4); break;
                    case "F16": BinaryPrimitives.WriteHalfLittleEndian(b4, (Half)x); f.Write(b4[..2]); break;
                    case "BF16": BinaryPrimitives.WriteUInt16LittleEndian(b4, (ushort)(BitConverter.SingleToUInt32Bits(x) >> 16)); f.Write(b4[..2]); break;
                    default: throw new ArgumentException(dtype);
                }
            }
    }

    /// <summary>Rounds to the nearest value float16 holds.</summary>
    public static float ToHalf(float x) => (float)(Half)x;

    /// <summary>Truncates to a value bfloat16 holds exactly.</summary>
    public static float ToBFloat16(float x) => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(x) & 0xFFFF0000u);

    /// <summary>Writes a llama2.c v0 header of seven ints, then <paramref name="extraBytes"/> zero bytes: bad files made to order.</summary>
    public static string WriteHeader(string path, int[] header, long extraBytes = 0)
    {
        if (header.Length != 7) throw new ArgumentException("a llama2.c header has 7 ints", nameof(header));
        using var f = File.Create(path);
        var b = new byte[4];
        foreach (int v in header)
        {
            BinaryPrimitives.WriteInt32LittleEndian(b, v);
            f.Write(b);
        }
        f.Write(new byte[extraBytes]);
        return path;
    }
}
