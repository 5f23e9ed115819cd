using System.Buffers.Binary;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Writes seeded random-weight models, for benchmarks, where only the shape matters: matrices ~ N(0, std), norm
/// gains 1, the classifier shared or not as the shape says. In llama2.c v0 format, so any llama2.c-compatible
/// program can run the very same file, or as a Hugging Face directory (float32 or bfloat16, sharded when large) for
/// what llama2.c's header cannot hold (RoPE base and scaling, norm epsilon). The same seed gives the same weights in both.
/// </summary>
internal static class RandomCheckpoint
{
    /// <summary>llama2.c's "15M" shape: dim 288, hidden 768, 6 layers, 6 heads, vocab 32000, seq 256.</summary>
    public static ModelConfig Shape15M => new() { Dim = 288, HiddenDim = 768, NLayers = 6, NHeads = 6, NKvHeads = 6, VocabSize = 32000, MaxSeqLen = 256 };

    /// <summary>llama2.c's "110M" shape: dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000, seq 1024.</summary>
    public static ModelConfig Shape110M => new() { Dim = 768, HiddenDim = 2048, NLayers = 12, NHeads = 12, NKvHeads = 12, VocabSize = 32000, MaxSeqLen = 1024 };

    /// <summary>
    /// The shape of TinyLlama 1.1B: dim 2048, hidden 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000, context
    /// 2048, RoPE base 10000, norm epsilon 1e-5, its own classifier (1,100,048,384 parameters).
    /// </summary>
    public static ModelConfig ShapeTinyLlama1B => new()
    {
        Dim = 2048, HiddenDim = 5632, NLayers = 22, NHeads = 32, NKvHeads = 4, VocabSize = 32000, MaxSeqLen = 2048,
        NormEps = 1e-5f, RopeTheta = 10000, SharedClassifier = false,
    };

    /// <summary>
    /// The shape of Llama 2 7B: dim 4096, hidden 11008, 32 layers, 32 heads (no grouped queries), vocab 32000,
    /// context 4096, RoPE base 10000, norm epsilon 1e-5, its own classifier (6,738,415,616 parameters).
    /// </summary>
    public static ModelConfig ShapeLlama2_7B => new()
    {
        Dim = 4096, HiddenDim = 11008, NLayers = 32, NHeads = 32, NKvHeads = 32, VocabSize = 32000, MaxSeqLen = 4096,
        NormEps = 1e-5f, RopeTheta = 10000, SharedClassifier = false,
    };

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
    /// them). With <paramref name="bfloat16"/>, every tensor is stored as BF16 (each weight rounded to the nearest
    /// bfloat16), as most published checkpoints are. Weights larger than <paramref name="maxShardBytes"/> are split
    /// into shards with an index, as transformers splits them; either way the file is written a tensor at a time,
    /// so a 7B model never has to fit in memory. Cancelled or failed, it leaves none of its files. Returns the
    /// bytes of weight files written.
    /// </summary>
    public static long WriteDirectory(ModelConfig config, ulong seed, string directory, float std = 0.02f, IProgress<double>? progress = null,
                                      CancellationToken cancellationToken = default, bool bfloat16 = false, long maxShardBytes = SafetensorsShards.DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(directory);
        Directory.CreateDirectory(directory);
        var tensors = HuggingFaceTensors(config);
        int elementBytes = bfloat16 ? sizeof(ushort) : sizeof(float);
        var shards = Shards(config, bfloat16, maxShardBytes);
        string configPath = Path.Combine(directory, "config.json"), indexPath = Path.Combine(directory, SafetensorsShards.IndexFile);
        var written = new List<string>();
        try
        {
            // A model written here before in the other layout would shadow this one or leave a stale index.
            File.Delete(Path.Combine(directory, SafetensorsShards.SingleFile));
            File.Delete(indexPath);
            var emitter = new Emitter(seed, std, bfloat16, config.ParameterCount, progress, cancellationToken);
            long bytes = 0;
            foreach (var (name, first, count) in shards)
            {
                string path = Path.Combine(directory, name);
                written.Add(path);
                using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
                var own = tensors.GetRange(first, count);
                SafetensorsWriter.WriteHeader(file, own.Select(t => (t.Name, t.Shape)), bfloat16);
                foreach (var t in own) emitter.Emit(file, t);
                bytes += file.Length;
            }
            if (shards.Count > 1)
            {
                written.Add(indexPath);
                SafetensorsShards.WriteIndex(indexPath, tensors.Sum(t => t.Count * elementBytes),
                    shards.SelectMany(s => tensors.GetRange(s.First, s.Count).Select(t => (t.Name, s.File))));
            }
            // Last, so a directory with a config.json always has all its weight files.
            written.Add(configPath);
            File.WriteAllText(configPath, SafetensorsWriter.Config(config, bfloat16 ? "bfloat16" : "float32"));
            return bytes;
        }
        catch
        {
            foreach (string path in written) File.Delete(path);
            throw;
        }
    }

    /// <summary>The files <see cref="WriteDirectory"/> splits the model into: each one's name, first tensor and tensor count.</summary>
    internal static List<(string File, int First, int Count)> Shards(ModelConfig config, bool bfloat16, long maxShardBytes) =>
        SafetensorsShards.Plan(HuggingFaceTensors(config).Select(t => t.Count * (bfloat16 ? sizeof(ushort) : sizeof(float))).ToList(), maxShardBytes);

    /// <summary>One tensor of a Hugging Face checkpoint: norm gains are ones; query and key rows are permuted per head.</summary>
    private sealed record HfTensor(string Name, long[] Shape, bool Ones, int Heads)
    {
        public long Count => Shape.Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>
    /// The tensors in llama2.c's order (so the random stream is the same; an unshared classifier comes last, as
    /// it does there), named and shaped as Hugging Face names them; each shard's header lists its tensors' places,
    /// so their order in the files does not matter to a reader.
    /// </summary>
    private static List<HfTensor> HuggingFaceTensors(ModelConfig config)
    {
        int dim = config.Dim, kv = config.KvDim, hid = config.HiddenDim, L = config.NLayers;
        var order = new List<HfTensor> { new("model.embed_tokens.weight", [config.VocabSize, dim], false, 0) };
        void PerLayer(string name, long[] shape, bool ones = false, int heads = 0)
        {
            for (int l = 0; l < L; l++) order.Add(new($"model.layers.{l}.{name}.weight", shape, ones, heads));
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
        order.Add(new("model.norm.weight", [dim], true, 0));
        if (!config.SharedClassifier) order.Add(new("lm_head.weight", [config.VocabSize, dim], false, 0));
        return order;
    }

    /// <summary>Draws tensors from one random stream and writes them as float32 or bfloat16, 64 Ki values at a time.</summary>
    private sealed class Emitter(ulong seed, float std, bool bfloat16, long total, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        private readonly Gaussian _rng = new(seed);
        private readonly float[] _buffer = new float[1 << 16];
        private readonly ushort[]? _narrow = bfloat16 ? new ushort[1 << 16] : null;
        private long _written;

        public void Emit(Stream file, HfTensor t)
        {
            long count = t.Count;
            if (t.Heads == 0)
            {
                for (long done = 0; done < count;)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(count - done, _buffer.Length);
                    for (int i = 0; i < n; i++) _buffer[i] = t.Ones ? 1f : std * _rng.Next();
                    Write(file, _buffer.AsSpan(0, n));
                    done += n;
                    progress?.Report((double)(_written + done) / total);
                }
            }
            else
            {
                // Query or key rows: drawn in Meta's (interleaved) order, stored in Hugging Face's rotate-half order,
                // the permutation SafetensorsCheckpoint undoes. One matrix is held (64 MiB for a 7B's query).
                cancellationToken.ThrowIfCancellationRequested();
                var m = new float[count];
                for (long i = 0; i < count; i++) m[i] = std * _rng.Next();
                int rows = (int)t.Shape[0], cols = (int)t.Shape[1], hs = rows / t.Heads, half = hs / 2;
                for (int h = 0; h < t.Heads; h++)
                    for (int j = 0; j < 2; j++)
                        for (int i = 0; i < half; i++)
                            Write(file, m.AsSpan((h * hs + 2 * i + j) * cols, cols));
            }
            _written += count;
            progress?.Report((double)_written / total);
        }

        private void Write(Stream file, ReadOnlySpan<float> values)
        {
            if (_narrow is null)
            {
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
                return;
            }
            for (int at = 0; at < values.Length; at += _narrow.Length)
            {
                int n = Math.Min(_narrow.Length, values.Length - at);
                for (int i = 0; i < n; i++) _narrow[i] = Kernels.BFloat16Kernels.FromFloat(values[at + i]);
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_narrow.AsSpan(0, n)));
            }
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
        int[] fields = [config.Dim, config.HiddenDim, config.NLayers, config.NHeads, config.NKvHeads,
                         // llama2.c's v0 header says "the classifier is stored separately" with a negative vocabulary size.
                         config.SharedClassifier ? config.VocabSize : -config.VocabSize, config.MaxSeqLen];
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
        if (!config.SharedClassifier) Emit(config.VocabSize * dim, false); // classifier
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
