namespace FiRST.Runtime.Loading;

/// <summary>
/// Loads a llama.cpp GGUF model of architecture <c>llama</c>: the configuration from its <c>llama.*</c>
/// metadata, the weights from its tensors (F32 in place; F16 and BF16 converted to float32; Q8_0 and Q4_0 kept
/// as int8 and 4-bit with their scales, groups of 32, when every matrix is one of the two, else converted to float32).
/// </summary>
/// <remarks>
/// GGUF query and key rows are already in the interleaved RoPE order the runtime uses: llama.cpp's
/// <c>convert_hf_to_gguf.py</c> undoes Hugging Face's rotate-half permutation (<c>LlamaModel.permute</c>),
/// since ggml's llama RoPE rotates adjacent pairs as Meta's and llama2.c's do. So, unlike safetensors, the
/// rows are used as stored. Dimensions are listed fastest-first: a matrix <c>[rows, cols]</c> is <c>ne = [cols, rows]</c>.
/// Keys that change the math and are not supported are refused, never ignored; so is any tensor the runtime
/// would not use (biases, RoPE frequency factors), as llama.cpp refuses tensors it does not expect.
/// </remarks>
internal static unsafe class GgufCheckpoint
{
    private const string Arch = "llama.";

    public static ModelConfig ReadConfig(string path)
    {
        using var file = GgufFile.Open(path);
        return Config(file);
    }

    public static (ModelConfig Config, ModelWeights Weights) Load(string path, Func<int, bool>? loadLayer)
    {
        var file = GgufFile.Open(path);
        var owned = new List<IDisposable> { file };
        try
        {
            var c = Config(file);
            RefuseUnused(file, c);
            int dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim;
            var matrices = new List<string> { "token_embd.weight" };
            if (!c.SharedClassifier) matrices.Add("output.weight");
            for (int l = 0; l < c.NLayers; l++)
                foreach (var m in LayerMatrices) matrices.Add($"blk.{l}.{m}.weight");
            // Quantized matrices stay quantized when all of them are (llama-quantize's --pure files, or Q8_0 with Q4_0):
            // the decode kernels quantize activations in groups of 32 for both. A file that mixes them with float
            // types is read as float32 (WeightFormat.Q8 or Q4 can still quantize it afterwards).
            bool quantized = matrices.All(n => file.Tensors.TryGetValue(n, out var t) && t.Type is GgufTensorType.Q8_0 or GgufTensorType.Q4_0);
            var reader = new TensorReader(file, owned, quantized);

            var embedding = reader.Matrix("token_embd.weight", c.VocabSize, dim);
            var layers = new LayerWeights?[c.NLayers];
            for (int l = 0; l < c.NLayers; l++)
            {
                if (loadLayer != null && !loadLayer(l)) continue;
                string p = $"blk.{l}.";
                layers[l] = new LayerWeights
                {
                    RmsAtt = reader.Vector(p + "attn_norm.weight", dim),
                    Wq = reader.Matrix(p + "attn_q.weight", dim, dim),
                    Wk = reader.Matrix(p + "attn_k.weight", kv, dim),
                    Wv = reader.Matrix(p + "attn_v.weight", kv, dim),
                    Wo = reader.Matrix(p + "attn_output.weight", dim, dim),
                    RmsFfn = reader.Vector(p + "ffn_norm.weight", dim),
                    W1 = reader.Matrix(p + "ffn_gate.weight", hid, dim),
                    W2 = reader.Matrix(p + "ffn_down.weight", dim, hid),
                    W3 = reader.Matrix(p + "ffn_up.weight", hid, dim),
                };
            }
            var rmsFinal = reader.Vector("output_norm.weight", dim);
            var classifier = c.SharedClassifier ? embedding : reader.Matrix("output.weight", c.VocabSize, dim);
            return (c, new ModelWeights(embedding, layers, rmsFinal, classifier, owned.ToArray()));
        }
        catch
        {
            foreach (var d in owned) d.Dispose();
            throw;
        }
    }

    private static readonly string[] LayerMatrices = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"];
    private static readonly string[] LayerNorms = ["attn_norm", "ffn_norm"];

    /// <summary>The configuration from the <c>llama.*</c> keys; what changes the math and is not supported is refused.</summary>
    private static ModelConfig Config(GgufFile f)
    {
        string path = f.Path;
        string arch = f.OptionalString("general.architecture") ?? throw new ModelLoadException(path, "general.architecture", "missing");
        if (arch != "llama") throw new ModelLoadException(path, "general.architecture", $"'{Clip(arch)}' is not supported; expected 'llama'");
        if (f.OptionalInt(Arch + "expert_count") is > 0 and int experts)
            throw new ModelLoadException(path, Arch + "expert_count", $"{experts} experts (mixture of experts) are not supported; expected 0");

        if (!f.Tensors.TryGetValue("token_embd.weight", out var embd))
            throw new ModelLoadException(path, "token_embd.weight", "tensor not found");
        if (embd.Dims.Length != 2)
            throw new ModelLoadException(path, "token_embd.weight", $"shape [{string.Join(", ", embd.Dims)}]; expected [embedding_length, vocab]");
        int vocab = (int)embd.Dims[1];
        if (f.OptionalInt(Arch + "vocab_size") is { } v && v != vocab)
            throw new ModelLoadException(path, Arch + "vocab_size", $"{v} disagrees with token_embd.weight's {vocab} rows");
        if (f.OptionalArray<string>("tokenizer.ggml.tokens") is { } tokens && tokens.Length != vocab)
            throw new ModelLoadException(path, "tokenizer.ggml.tokens", $"{tokens.Length} tokens but token_embd.weight has {vocab} rows");

        int heads = f.Int(Arch + "attention.head_count");
        var config = new ModelConfig
        {
            Dim = f.Int(Arch + "embedding_length"),
            HiddenDim = f.Int(Arch + "feed_forward_length"),
            NLayers = f.Int(Arch + "block_count"),
            NHeads = heads,
            NKvHeads = f.OptionalInt(Arch + "attention.head_count_kv") ?? heads,
            VocabSize = vocab,
            MaxSeqLen = f.Int(Arch + "context_length"),
            NormEps = (float)(f.OptionalFloat(Arch + "attention.layer_norm_rms_epsilon")
                              ?? throw new ModelLoadException(path, Arch + "attention.layer_norm_rms_epsilon", "missing")),
            RopeTheta = (float)(f.OptionalFloat(Arch + "rope.freq_base") ?? 10000),
            RopeScaling = Scaling(f),
            SharedClassifier = !f.Tensors.ContainsKey("output.weight"),
        };
        config.Validate(path);
        foreach (var key in new[] { Arch + "rope.dimension_count", Arch + "attention.key_length", Arch + "attention.value_length" })
            if (f.OptionalInt(key) is { } n && n != config.HeadSize)
                throw new ModelLoadException(path, key, $"{n} is not supported; expected the head size embedding_length / head_count = {config.HeadSize}");
        return config;
    }

    /// <summary>
    /// <c>llama.rope.scaling.type</c>: none or linear (factor from <c>llama.rope.scaling.factor</c>); the older
    /// <c>llama.rope.scale_linear</c> means linear too. YaRN and the rest change the math and are refused.
    /// </summary>
    private static RopeScaling Scaling(GgufFile f)
    {
        string typeKey = Arch + "rope.scaling.type", factorKey = Arch + "rope.scaling.factor", legacyKey = Arch + "rope.scale_linear";
        string? type = f.OptionalString(typeKey);
        double? legacy = f.OptionalFloat(legacyKey);
        if (type is null && legacy is { } l && l != 1)
            return l > 0 ? RopeScaling.Linear(l) : throw new ModelLoadException(f.Path, legacyKey, $"expected a positive factor, got {l}");
        switch (type)
        {
            case null or "none":
                return RopeScaling.Default;
            case "linear":
                double factor = f.OptionalFloat(factorKey) ?? throw new ModelLoadException(f.Path, factorKey, "missing (linear RoPE scaling needs its factor)");
                if (!(factor > 0)) throw new ModelLoadException(f.Path, factorKey, $"expected a positive factor, got {factor}");
                return factor == 1 ? RopeScaling.Default : RopeScaling.Linear(factor);
            default:
                throw new ModelLoadException(f.Path, typeKey, $"'{Clip(type)}' is not supported; expected none or linear");
        }
    }

    /// <summary>
    /// Refuses tensors the runtime would not use: running without them would compute another model (a bias,
    /// Llama 3.1's <c>rope_freqs.weight</c> frequency factors), so the file is refused, naming the first.
    /// </summary>
    private static void RefuseUnused(GgufFile f, ModelConfig c)
    {
        var used = new HashSet<string>(StringComparer.Ordinal) { "token_embd.weight", "output_norm.weight", "output.weight" };
        for (int l = 0; l < c.NLayers; l++)
            foreach (var m in LayerMatrices.Concat(LayerNorms)) used.Add($"blk.{l}.{m}.weight");
        foreach (var name in f.Tensors.Keys)
            if (!used.Contains(name))
                throw new ModelLoadException(f.Path, name, "this tensor is not part of a llama model the runtime can run (a bias, RoPE frequency factors or another architecture's weight)");
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>Finds tensors, checks their shapes (fastest dimension first) and returns runtime matrices.</summary>
    private sealed class TensorReader(GgufFile file, List<IDisposable> owned, bool quantized)
    {
        public Matrix Vector(string name, int length)
        {
            var t = Find(name, [length]);
            return Float(t, 1, length);
        }

        public Matrix Matrix(string name, int rows, int cols)
        {
            var t = Find(name, [cols, rows]);
            if (!quantized) return Float(t, rows, cols);
            if (t.Type == GgufTensorType.Q4_0)
            {
                var nibbles = NativeBuffer.Raw((long)rows * cols / 2);
                owned.Add(nibbles);
                var q4Scales = NativeBuffer.Floats((long)rows * cols / GgufBlocks.BlockSize);
                owned.Add(q4Scales);
                GgufBlocks.PlaceQ4_0(file.DataPointer(t), rows, cols, nibbles.ByteData, q4Scales.Data);
                return Loading.Matrix.FourBit(nibbles.ByteData, q4Scales.Data, rows, cols);
            }
            var values = NativeBuffer.SBytes((long)rows * cols);
            owned.Add(values);
            var scales = NativeBuffer.Floats((long)rows * cols / GgufBlocks.BlockSize);
            owned.Add(scales);
            GgufBlocks.SplitQ8_0(file.DataPointer(t), values.SByteData, scales.Data, (long)rows * cols);
            return new Matrix(values.SByteData, scales.Data, rows, cols, GgufBlocks.BlockSize);
        }

        private Matrix Float(GgufTensor t, int rows, int cols)
        {
            byte* src = file.DataPointer(t);
            if (t.Type == GgufTensorType.F32 && (nuint)src % 4 == 0) return new Matrix((float*)src, rows, cols);
            var buffer = NativeBuffer.Floats((long)rows * cols);
            owned.Add(buffer);
            GgufBlocks.ToFloat(t.Type, src, buffer.Data, (long)rows * cols);
            return new Matrix(buffer.Data, rows, cols);
        }

        private GgufTensor Find(string name, long[] dims)
        {
            if (!file.Tensors.TryGetValue(name, out var t))
                throw new ModelLoadException(file.Path, name, "tensor not found; the llama.* metadata describes a model that needs it");
            if (!t.Dims.AsSpan().SequenceEqual(dims))
                throw new ModelLoadException(file.Path, name, $"shape [{string.Join(", ", t.Dims)}] does not match the metadata; expected [{string.Join(", ", dims)}] (fastest first)");
            return t;
        }
    }
}
