using System.Buffers.Binary;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Writes seeded random-weight models, for benchmarks, where only the shape matters: matrices ~ N(0, std), norm
/// gains 1, shared classifier. In llama2.c v0 format, so any llama2.c-compatible program can run the very same
/// file, or as a Hugging Face directory (float32) for what llama2.c's header cannot hold (RoPE base and scaling,
/// norm epsilon). The same seed gives the same weights in both.
/// </summary>
internal static class RandomCheckpoint
{
    /// <summary>llama2.c's "15M" shape: dim 288, hidden 768, 6 layers, 6 heads, vocab 32000, seq 256.</summary>
    public static ModelConfig Shape15M => new() { Dim = 288, HiddenDim = 768, NLayers = 6, NHeads = 6, NKvHeads = 6, VocabSize = 32000, MaxSeqLen = 256 };

    /// <summary>llama2.c's "110M" shape: dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000, seq 1024.</summary>
    public static ModelConfig Shape110M => new() { Dim = 768, HiddenDim = 2048, NLayers = 12, NHeads = 12, NKvHeads = 12, VocabSize = 32000, MaxSeqLen = 1024 };

    /// <summary>
    /// The shape of Llama 3.2 1B: dim 2048, hidden 8192, 16 layers, 32 heads, 8 KV heads, vocab 128256, context
    /// 131072, tied embeddings, RoPE base 500000 with llama3 scaling (factor 32, low 1, high 4, original 8192).
    /// </summary>
    public static ModelConfig ShapeLlama3_1B => new()
    {
        Dim = 2048, HiddenDim = 8192, NLayers = 16, NHeads = 32, NKvHeads = 8, VocabSize = 128256, MaxSeqLen = 131072,
        NormEps = 1e-5f, RopeTheta = 500000, RopeScaling = RopeScaling.Llama3(32, 1, 4, 8192), SharedClassifier = true,
    };

    /// <summary>
    /// Writes the model as a Hugging Face directory (<c>config.json</c> + float32 <c>model.safetensors</c>), with
    /// the weights <see cref="Write(ModelConfig, ulong, string, float, IProgress{double}?, CancellationToken)"/> gives
    /// for the same seed (query and key rows in Hugging Face's rotate-half order, as a converted checkpoint has
    /// them). Cancelled or failed, it leaves neither file. With <paramref name="bfloat16"/>, every tensor is stored
    /// as BF16 (each weight rounded to the nearest bfloat16), as most published checkpoints are.
    /// </summary>
    public static void WriteDirectory(ModelConfig config, ulong seed, string directory, float std = 0.02f, IProgress<double>? progress = null,
                                      CancellationToken cancellationToken = default, bool bfloat16 = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(directory);
        if (!config.SharedClassifier) throw new ArgumentException("random checkpoints share the classifier with the embedding", nameof(config));
        Directory.CreateDirectory(directory);
        string configPath = Path.Combine(directory, "config.json"), weightsPath = Path.Combine(directory, "model.safetensors");
        try
        {
            using (var file = new FileStream(weightsPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                WriteSafetensors(config, seed, file, std, progress, cancellationToken, bfloat16);
            // Last, so a directory with a config.json always has its whole weight file.
            File.WriteAllText(configPath, SafetensorsWriter.Config(config));
        }
        catch
        {
            File.Delete(weightsPath);
            File.Delete(configPath);
            throw;
        }
    }

    /// <summary>
    /// The tensors in llama2.c's order (so the random stream is the same), named and shaped as Hugging Face names
    /// them; the header lists each one's place, so their order in the file does not matter to a reader.
    /// </summary>
    private static void WriteSafetensors(ModelConfig config, ulong seed, FileStream file, float std, IProgress<double>? progress, CancellationToken cancellationToken, bool bfloat16)
    {
        var narrow = bfloat16 ? new ushort[1 << 16] : null;
        void Write(ReadOnlySpan<float> values)
        {
            if (narrow is null)
            {
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
                return;
            }
            for (int at = 0; at < values.Length; at += narrow.Length)
            {
                int n = Math.Min(narrow.Length, values.Length - at);
                for (int i = 0; i < n; i++) narrow[i] = Kernels.BFloat16Kernels.FromFloat(values[at + i]);
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(narrow.AsSpan(0, n)));
            }
        }
        int dim = config.Dim, kv = config.KvDim, hid = config.HiddenDim, L = config.NLayers;
        var order = new List<(string Name, long[] Shape, bool Ones, int Heads)> { ("model.embed_tokens.weight", [config.VocabSize, dim], false, 0) };
        void PerLayer(string name, long[] shape, bool ones = false, int heads = 0)
        {
            for (int l = 0; l < L; l++) order.Add(($"model.layers.{l}.{name}.weight", shape, ones, heads));
        }
        PerLayer("input_layernorm", [dim], ones: true);
        PerLayer("self_attn.q_proj", [dim, dim], heads: config.NHeads);
        PerLayer("self_attn.k_proj", [kv, dim], heads: config.NKvHeads);
        PerLayer("self_attn.v_proj", [kv, dim]);
        PerLayer("self_attn.o_proj", [dim, dim]);
        PerLayer("post_attention_layernorm", [dim], ones: true);
        PerLayer("mlp.gate_proj", [hid, dim]);
        PerLayer("mlp.down_proj", [dim, hid]);
        PerLayer("mlp.up_proj", [hid, dim]);
        order.Add(("model.norm.weight", [dim], true, 0));
        SafetensorsWriter.WriteHeader(file, order.Select(t => (t.Name, t.Shape)), bfloat16);

        long total = order.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)), written = 0;
        var rng = new Gaussian(seed);
        var buffer = new float[1 << 16];
        foreach (var (_, shape, ones, heads) in order)
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            if (heads == 0)
            {
                for (long done = 0; done < count;)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(count - done, buffer.Length);
                    for (int i = 0; i < n; i++) buffer[i] = ones ? 1f : std * rng.Next();
                    Write(buffer.AsSpan(0, n));
                    done += n;
                    progress?.Report((double)(written + done) / total);
                }
            }
            else
            {
                // Query or key rows: drawn in Meta's (interleaved) order, stored in Hugging Face's rotate-half order,
                // the permutation SafetensorsCheckpoint undoes.
                cancellationToken.ThrowIfCancellationRequested();
                var m = new float[count];
                for (long i = 0; i < count; i++) m[i] = std * rng.Next();
                int rows = (int)shape[0], cols = (int)shape[1], hs = rows / heads, half = hs / 2;
                for (int h = 0; h < heads; h++)
                    for (int j = 0; j < 2; j++)
                        for (int i = 0; i < half; i++)
                            Write(m.AsSpan((h * hs + 2 * i + j) * cols, cols));
            }
            written += count;
            progress?.Report((double)written / total);
        }
    }

    /// <summary>
    /// Writes the model; <paramref name="progress"/> receives the fraction written (0..1). Cancelled (checked every
    /// 64 Ki values) or failed, it leaves no file: a truncated checkpoint would only fail later, at load.
    /// </summary>
    public static void Write(ModelConfig config, ulong seed, string path, float std = 0.02f, IProgress<double>? progress = null,
                             CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(path);
        if (!config.SharedClassifier) throw new ArgumentException("random checkpoints share the classifier with the embedding", nameof(config));
        Llama2cCheckpoint.EnsureRepresentable(config, path);
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        try
        {
            using (file) Write(config, seed, file, std, progress, cancellationToken);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private static void Write(ModelConfig config, ulong seed, FileStream file, float std, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        long total = Llama2cCheckpoint.FloatCount(config);
        var rng = new Gaussian(seed);
        Span<byte> header = stackalloc byte[28];
        int[] fields = [config.Dim, config.HiddenDim, config.NLayers, config.NHeads, config.NKvHeads, config.VocabSize, config.MaxSeqLen];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header[(i * 4)..], fields[i]);
        file.Write(header);

        long written = 0;
        var buffer = new float[1 << 16];
        void Emit(long count, bool ones)
        {
            while (count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = (int)Math.Min(count, buffer.Length);
                for (int i = 0; i < n; i++) buffer[i] = ones ? 1f : std * rng.Next();
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan(0, n)));
                count -= n;
                written += n;
                progress?.Report((double)written / total);
            }
        }

        long dim = config.Dim, kv = config.KvDim, hid = config.HiddenDim, L = config.NLayers;
        Emit(config.VocabSize * dim, false);     // token embedding
        Emit(L * dim, true);                     // rms_att
        Emit(L * dim * dim, false);              // wq
        Emit(L * kv * dim * 2, false);           // wk, wv
        Emit(L * dim * dim, false);              // wo
        Emit(L * dim, true);                     // rms_ffn
        Emit(L * hid * dim * 3, false);          // w1, w2, w3
        Emit(dim, true);                         // rms_final
        Emit((long)config.MaxSeqLen * config.HeadSize, true); // legacy RoPE tables, never read
    }

    /// <summary>Standard normal numbers from xoshiro256** and Box-Muller; the same seed gives the same stream everywhere.</summary>
    private sealed class Gaussian(ulong seed)
    {
        private ulong _s0 = SplitMix(ref seed), _s1 = SplitMix(ref seed), _s2 = SplitMix(ref seed), _s3 = SplitMix(ref seed);
        private float _spare;
        private bool _hasSpare;

        public float Next()
        {
            if (_hasSpare) { _hasSpare = false; return _spare; }
            double u1 = ((NextU64() >> 11) + 1) * (1.0 / 9007199254740993.0), u2 = (NextU64() >> 11) * (1.0 / 9007199254740992.0);
            double r = Math.Sqrt(-2 * Math.Log(u1));
            _spare = (float)(r * Math.Sin(2 * Math.PI * u2));
            _hasSpare = true;
            return (float)(r * Math.Cos(2 * Math.PI * u2));
        }

        private ulong NextU64()
        {
            ulong result = BitOperationsRotl(_s1 * 5, 7) * 9, t = _s1 << 17;
            _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t; _s3 = BitOperationsRotl(_s3, 45);
            return result;
        }

        private static ulong BitOperationsRotl(ulong x, int k) => System.Numerics.BitOperations.RotateLeft(x, k);

        private static ulong SplitMix(ref ulong x)
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
