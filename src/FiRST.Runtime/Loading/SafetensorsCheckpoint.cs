using System.Text.Json;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Loads a Hugging Face Llama checkpoint: <c>config.json</c> plus <c>model.safetensors</c> (or shards listed
/// in <c>model.safetensors.index.json</c>). F32 and BF16 matrices are used in place (BF16 runs as bfloat16 unless
/// the caller asks for float32 or int8); F16 tensors, norm vectors and anything misaligned are widened to float32
/// once. A tensor copied out of the mapping (widened, permuted or quantized) gives its mapped pages back at once, so
/// memory holds the weights as they run and, while loading, about one tensor more.
/// </summary>
/// <remarks>
/// Hugging Face stores the query and key rows of each head permuted for its "rotate half" RoPE, which pairs
/// element i with i + head_size/2. The runtime rotates adjacent pairs (2i, 2i+1) as Meta and llama2.c do,
/// so those rows are put back in interleaved order here, once; after that both formats run the same code.
/// </remarks>
internal static unsafe class SafetensorsCheckpoint
{
    /// <param name="directory">The model directory.</param>
    /// <param name="loadLayer">Which layers to read; null for all.</param>
    /// <param name="checkFinite">Whether to check, for this config, that every tensor read is finite (naming its shard if not).</param>
    /// <param name="widen">Widen BF16 matrices to float32 instead of keeping them as stored.</param>
    /// <param name="quantizeGroupSize">
    /// Quantize every matrix to int8 as it is read, with this preferred group size (see
    /// <see cref="Quantizer.GroupSizeFor"/>); null keeps them as stored (or widened).
    /// </param>
    /// <param name="format">With a group size: <see cref="WeightFormat.Q4"/> quantizes to 4 bits where a matrix's rows allow.</param>
    public static (ModelConfig Config, ModelWeights Weights) Load(string directory, Func<int, bool>? loadLayer, Func<ModelConfig, bool> checkFinite, bool widen = false,
                                                                   int? quantizeGroupSize = null, WeightFormat format = WeightFormat.Q8)
    {
        string configPath = System.IO.Path.Combine(directory, "config.json");
        var config = HuggingFaceConfig.Read(configPath);
        var owned = new List<IDisposable>();
        try
        {
            var tensors = OpenShards(directory, owned);
            int groupSize = quantizeGroupSize is { } preferred ? Quantizer.GroupSizeFor(config, preferred) : 0;
            var loader = new TensorReader(tensors, owned, configPath, checkFinite(config), widen, groupSize, format == WeightFormat.Q4 ? WeightFormat.Q4 : WeightFormat.Q8);
            int dim = config.Dim, kv = config.KvDim, hid = config.HiddenDim;

            var embedding = loader.Get("model.embed_tokens.weight", config.VocabSize, dim);
            var layers = new LayerWeights?[config.NLayers];
            for (int l = 0; l < config.NLayers; l++)
            {
                if (loadLayer != null && !loadLayer(l)) continue;
                string p = $"model.layers.{l}.";
                layers[l] = new LayerWeights
                {
                    RmsAtt = loader.Get(p + "input_layernorm.weight", 1, dim),
                    Wq = loader.GetRopeRows(p + "self_attn.q_proj.weight", config.NHeads, config.HeadSize, dim),
                    Wk = loader.GetRopeRows(p + "self_attn.k_proj.weight", config.NKvHeads, config.HeadSize, dim),
                    Wv = loader.Get(p + "self_attn.v_proj.weight", kv, dim),
                    Wo = loader.Get(p + "self_attn.o_proj.weight", dim, dim),
                    RmsFfn = loader.Get(p + "post_attention_layernorm.weight", 1, dim),
                    W1 = loader.Get(p + "mlp.gate_proj.weight", hid, dim),
                    W2 = loader.Get(p + "mlp.down_proj.weight", dim, hid),
                    W3 = loader.Get(p + "mlp.up_proj.weight", hid, dim),
                };
            }
            var rmsFinal = loader.Get("model.norm.weight", 1, dim);
            // Tied as transformers ties them: an lm_head.weight the file also holds is not used.
            var classifier = config.SharedClassifier ? embedding : loader.Get("lm_head.weight", config.VocabSize, dim);
            return (config, new ModelWeights(embedding, layers, rmsFinal, classifier, owned.ToArray()));
        }
        catch
        {
            foreach (var d in owned) d.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the single file or every shard named by the index; maps each tensor name to its file. With an
    /// index, the weight map is the authority: each tensor it lists must be in the shard it names (a missing
    /// shard or tensor is an error naming that shard and the index), and a tensor it does not list is absent.
    /// </summary>
    private static Tensors OpenShards(string directory, List<IDisposable> owned)
    {
        string single = System.IO.Path.Combine(directory, "model.safetensors");
        string index = System.IO.Path.Combine(directory, "model.safetensors.index.json");
        var map = new Dictionary<string, (SafetensorsFile, SafetensorsEntry)>(StringComparer.Ordinal);
        if (File.Exists(single))
        {
            var st = SafetensorsFile.Open(single);
            owned.Add(st);
            foreach (var (name, entry) in st.Entries) map[name] = (st, entry);
            return new Tensors(map, single, "tensor not found");
        }
        if (!File.Exists(index)) throw new ModelLoadException(single, "", "file not found (nor model.safetensors.index.json)");

        var weightMap = ReadIndex(index);
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var (tensor, shard) in weightMap)
        {
            if (!shards.TryGetValue(shard, out var st))
            {
                string path = System.IO.Path.Combine(directory, shard);
                if (!File.Exists(path))
                    throw new ModelLoadException(path, "", $"file not found: the index {index} places tensor {tensor} in it");
                st = SafetensorsFile.Open(path);
                owned.Add(st);
                shards.Add(shard, st);
            }
            if (!st.Entries.TryGetValue(tensor, out var entry))
                throw new ModelLoadException(st.Path, tensor, $"tensor not found: the index {index} places it in this shard");
            map[tensor] = (st, entry);
        }
        return new Tensors(map, index, "tensor not found: the index's weight_map does not list it");
    }

    /// <summary>Tensors by name, and the file and words to blame for one that is missing.</summary>
    private sealed record Tensors(Dictionary<string, (SafetensorsFile File, SafetensorsEntry Entry)> Map, string Source, string MissingProblem);

    /// <summary>Largest index file accepted (real ones list a few thousand tensors).</summary>
    private const long MaxIndexBytes = 16L << 20;

    /// <summary>The index's weight map: tensor name to shard file name, in file order.</summary>
    private static List<(string Tensor, string Shard)> ReadIndex(string index) =>
        JsonFile.Parse(JsonFile.ReadBounded(index, MaxIndexBytes, "file not found"), index, (root, source) =>
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new ModelLoadException(source, "weight_map", "missing or not an object");
            var entries = new List<(string, string)>();
            foreach (var p in wm.EnumerateObject())
            {
                string? shard = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
                if (string.IsNullOrEmpty(shard) || shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                    throw new ModelLoadException(source, p.Name, $"invalid shard file name {p.Value.GetRawText()}");
                entries.Add((p.Name, shard));
            }
            return entries;
        });

    /// <summary>
    /// Finds tensors, checks their shapes and returns float32 or bfloat16 views, converting where needed; with a
    /// group size, int8 matrices quantized from those views.
    /// </summary>
    private sealed class TensorReader(Tensors all, List<IDisposable> owned, string configPath, bool checkFinite, bool widen, int groupSize, WeightFormat format)
    {
        private readonly Dictionary<string, (SafetensorsFile File, SafetensorsEntry Entry)> tensors = all.Map;

        /// <summary>Buffers of the matrix being read that quantization replaces (freed once it is quantized).</summary>
        private readonly List<IDisposable> _scratch = [];

        public bool Has(string name) => tensors.ContainsKey(name);

        /// <summary>Where a converted copy of a tensor lives: the model's buffers, or scratch when it is about to be quantized.</summary>
        private List<IDisposable> Holder(int rows) => Quantizes(rows) ? _scratch : owned;

        /// <summary>Norm vectors stay float32 in every format; matrices are quantized when a group size was given.</summary>
        private bool Quantizes(int rows) => groupSize > 0 && rows > 1;

        public Matrix Get(string name, int rows, int cols)
        {
            var (file, entry) = Find(name, rows, cols);
            byte* src = file.DataPointer(entry);
            Matrix m;
            bool inPlace = true;
            if (entry.DType == SafetensorsDType.F32 && ((nuint)src % 4) == 0)
                m = new Matrix((float*)src, rows, cols);
            else if ((KeepsBFloat16(entry, rows) || (Quantizes(rows) && entry.DType == SafetensorsDType.BF16)) && ((nuint)src % 2) == 0)
                m = new Matrix((ushort*)src, rows, cols);
            else
            {
                var buffer = NativeBuffer.Floats((long)rows * cols);
                Holder(rows).Add(buffer);
                Widen(entry.DType, src, buffer.Data, (long)rows * cols);
                m = new Matrix(buffer.Data, rows, cols);
                inPlace = false;
            }
            if (checkFinite) WeightValidation.Check(m, name, file.Path);
            return Finish(m, file, entry, inPlace, classifier: name is "model.embed_tokens.weight" or "lm_head.weight");
        }

        /// <summary>
        /// Quantizes the matrix when asked to, then gives back the mapped pages of a tensor that is no longer read
        /// in place: what was read of them would otherwise stay resident beside the copy for the model's lifetime.
        /// </summary>
        private Matrix Finish(Matrix m, SafetensorsFile file, SafetensorsEntry entry, bool inPlace, bool classifier = false)
        {
            if (Quantizes(m.Rows))
            {
                m = Quantizer.Quantize(m, Quantizer.FormatOf(format, classifier), groupSize, owned);
                foreach (var d in _scratch) d.Dispose();
                _scratch.Clear();
                inPlace = false;
            }
            if (!inPlace) file.Release(entry);
            return m;
        }

        /// <summary>
        /// Norm vectors are tiny and read as float32 by every path, so they are always widened; matrices stay
        /// bfloat16 unless the caller asked for float32.
        /// </summary>
        private bool KeepsBFloat16(SafetensorsEntry entry, int rows) => entry.DType == SafetensorsDType.BF16 && !widen && rows > 1;

        /// <summary>Whether query and key rows are permuted as bfloat16: kept so, or quantized next (half the copy's bytes of widening first).</summary>
        private bool PermutesBFloat16(SafetensorsEntry entry, int rows) => KeepsBFloat16(entry, rows) || (Quantizes(rows) && entry.DType == SafetensorsDType.BF16);

        /// <summary>Reads a query or key projection and undoes Hugging Face's rotate-half row permutation.</summary>
        public Matrix GetRopeRows(string name, int heads, int headSize, int cols)
        {
            int rows = heads * headSize;
            var (file, entry) = Find(name, rows, cols);
            if (PermutesBFloat16(entry, rows)) return Finish(GetRopeRowsBFloat16(file, entry, name, heads, headSize, cols), file, entry, inPlace: false);
            var wide = NativeBuffer.Floats((long)rows * cols);
            try
            {
                Widen(entry.DType, file.DataPointer(entry), wide.Data, (long)rows * cols);
                // Checked before the permutation, so an error's element index is the file's.
                if (checkFinite) WeightValidation.Check(new Matrix(wide.Data, rows, cols), name, file.Path);
                var result = NativeBuffer.Floats((long)rows * cols);
                Holder(rows).Add(result);
                int half = headSize / 2;
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < half; i++)
                        for (int j = 0; j < 2; j++)
                        {
                            // HF row h*hs + j*half + i holds what Meta/llama2.c store at row h*hs + 2i + j.
                            long from = (long)(h * headSize + j * half + i) * cols;
                            long to = (long)(h * headSize + 2 * i + j) * cols;
                            Buffer.MemoryCopy(wide.Data + from, result.Data + to, (long)cols * 4, (long)cols * 4);
                        }
                return Finish(new Matrix(result.Data, rows, cols), file, entry, inPlace: false);
            }
            finally
            {
                wide.Dispose();
            }
        }

        /// <summary>
        /// <see cref="GetRopeRows"/> for bfloat16: the rows are copied, as stored, into an owned 16-bit buffer in
        /// Meta's order (a copy is needed anyway to permute them; widening it would double it).
        /// </summary>
        private Matrix GetRopeRowsBFloat16(SafetensorsFile file, SafetensorsEntry entry, string name, int heads, int headSize, int cols)
        {
            int rows = heads * headSize;
            ushort* src = (ushort*)file.DataPointer(entry);
            // Read element by element below, so alignment does not matter; checked before the permutation so an
            // error's element index is the file's.
            if (checkFinite) WeightValidation.Check(new Matrix(src, rows, cols), name, file.Path);
            var result = NativeBuffer.UShorts((long)rows * cols);
            Holder(rows).Add(result);
            int half = headSize / 2;
            long rowBytes = (long)cols * sizeof(ushort);
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++)
                    for (int j = 0; j < 2; j++)
                    {
                        long from = (long)(h * headSize + j * half + i) * cols;
                        long to = (long)(h * headSize + 2 * i + j) * cols;
                        Buffer.MemoryCopy(src + from, result.UShortData + to, rowBytes, rowBytes);
                    }
            return new Matrix(result.UShortData, rows, cols);
        }

        private (SafetensorsFile, SafetensorsEntry) Find(string name, int rows, int cols)
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new ModelLoadException(all.Source, name, $"{all.MissingProblem}; {configPath} describes a model that needs it");
            var shape = t.Entry.Shape;
            bool ok = rows == 1 ? shape is [var n] && n == cols || shape is [1, var m] && m == cols
                                : shape is [var r, var c] && r == rows && c == cols;
            if (!ok)
                throw new ModelLoadException(t.File.Path, name, $"shape [{string.Join(", ", shape)}] does not match {configPath}; expected [{(rows == 1 ? cols.ToString() : $"{rows}, {cols}")}]");
            return t;
        }

        private static void Widen(SafetensorsDType dtype, byte* src, float* dst, long count)
        {
            switch (dtype)
            {
                case SafetensorsDType.F32:
                    Buffer.MemoryCopy(src, dst, count * 4, count * 4);
                    break;
                case SafetensorsDType.F16:
                    Widening.F16(src, dst, count);
                    break;
                case SafetensorsDType.BF16:
                    Widening.BF16(src, dst, count);
                    break;
            }
        }
    }
}
