using System.Buffers.Binary;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Writes seeded random-weight models in llama2.c v0 format, so any llama2.c-compatible program can run the
/// very same file: matrices ~ N(0, std), norm gains 1, shared classifier. For benchmarks, where only the
/// shape matters.
/// </summary>
internal static class RandomCheckpoint
{
    /// <summary>llama2.c's "15M" shape: dim 288, hidden 768, 6 layers, 6 heads, vocab 32000, seq 256.</summary>
    public static ModelConfig Shape15M => new() { Dim = 288, HiddenDim = 768, NLayers = 6, NHeads = 6, NKvHeads = 6, VocabSize = 32000, MaxSeqLen = 256 };

    /// <summary>llama2.c's "110M" shape: dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000, seq 1024.</summary>
    public static ModelConfig Shape110M => new() { Dim = 768, HiddenDim = 2048, NLayers = 12, NHeads = 12, NKvHeads = 12, VocabSize = 32000, MaxSeqLen = 1024 };

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
