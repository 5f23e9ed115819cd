namespace FiRST.Runtime.Loading;

/// <summary>
/// Reads llama2.c checkpoints (format in <c>../shared/models/README.md</c> and llama2.c's <c>export.py</c>):
/// <list type="bullet">
/// <item>v0 ("legacy"): seven int32 header fields, float32 tensors grouped by kind, legacy RoPE tables.</item>
/// <item>v1: a 256-byte header (magic "ak42", version, the seven fields, shared-classifier flag), norms first, float32.</item>
/// <item>v2: the v1 header plus the group size; norms float32, matrices int8 with a float32 scale per group (Q8_0).</item>
/// </list>
/// The file is memory-mapped; tensors are views into the map, and the file size is checked against the header
/// before any tensor is touched.
/// </summary>
internal static unsafe class Llama2cCheckpoint
{
    private const int LegacyHeaderBytes = 7 * sizeof(int);
    private const int HeaderBytes = 256;

    /// <summary>"ak42", the magic of llama2.c's versioned export formats.</summary>
    internal const int Magic = 0x616b3432;

    private readonly record struct Header(ModelConfig Config, int Version, int GroupSize);

    /// <summary>
    /// Throws unless a llama2.c file can hold <paramref name="config"/>: its header has no RMSNorm epsilon, RoPE base
    /// or scaling, and reading it gives llama2.c's (1e-5, 10000, none), so any other value would load as garbage.
    /// </summary>
    /// <exception cref="ArgumentException">The configuration needs a Hugging Face directory instead.</exception>
    public static void EnsureRepresentable(ModelConfig config, string path)
    {
        var llama2c = new ModelConfig { Dim = 1, HiddenDim = 1, NLayers = 1, NHeads = 1, NKvHeads = 1, VocabSize = 1, MaxSeqLen = 1 };
        if (config.NormEps != llama2c.NormEps || config.RopeTheta != llama2c.RopeTheta || config.RopeScaling != llama2c.RopeScaling)
            throw new ArgumentException(
                $"{path}: a llama2.c file holds no norm_eps, rope_theta or RoPE scaling (it reads as 1e-05, 10000, default), and this model has " +
                $"norm_eps {config.NormEps:G}, rope_theta {config.RopeTheta:G}, rope_scaling {config.RopeScaling}; write a Hugging Face directory instead");
    }

    /// <summary>Reads and validates the header only.</summary>
    public static ModelConfig ReadConfig(MappedFile file) => ReadHeader(file).Config;

    private static Header ReadHeader(MappedFile file)
    {
        if (file.Length < LegacyHeaderBytes)
            throw new ModelLoadException(file.Path, "header", $"file is truncated: {file.Length} bytes, a llama2.c header needs {LegacyHeaderBytes}");
        if (file.ReadInt32(0) != Magic)
        {
            var legacy = Fields(file, 0, shared: null);
            return new Header(legacy, 0, 0);
        }

        if (file.Length < HeaderBytes)
            throw new ModelLoadException(file.Path, "header", $"file is truncated: {file.Length} bytes, a llama2.c v1/v2 header needs {HeaderBytes}");
        int version = file.ReadInt32(4);
        if (version is not (1 or 2))
            throw new ModelLoadException(file.Path, "version", $"llama2.c export version {version} is not supported; expected 0, 1 or 2");
        byte shared = file.Pointer[36];
        if (shared > 1) throw new ModelLoadException(file.Path, "shared_classifier", $"expected 0 or 1, got {shared}");
        var config = Fields(file, 8, shared == 1);
        int groupSize = 0;
        if (version == 2)
        {
            groupSize = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(file.Pointer + 37, 4));
            if (groupSize <= 0 || config.Dim % groupSize != 0 || config.HiddenDim % groupSize != 0)
                throw new ModelLoadException(file.Path, "group_size", $"group size {groupSize} must be positive and divide dim {config.Dim} and hidden_dim {config.HiddenDim}");
        }
        return new Header(config, version, groupSize);
    }

    private static ModelConfig Fields(MappedFile file, int offset, bool? shared)
    {
        int vocab = file.ReadInt32(offset + 20);
        var config = new ModelConfig
        {
            Dim = file.ReadInt32(offset),
            HiddenDim = file.ReadInt32(offset + 4),
            NLayers = file.ReadInt32(offset + 8),
            NHeads = file.ReadInt32(offset + 12),
            NKvHeads = file.ReadInt32(offset + 16),
            // In v0 a negative vocabulary size says the classifier is stored separately.
            VocabSize = vocab == int.MinValue ? 0 : shared is null ? Math.Abs(vocab) : vocab,
            MaxSeqLen = file.ReadInt32(offset + 24),
            SharedClassifier = shared ?? vocab > 0,
        };
        config.Validate(file.Path);
        return config;
    }

    /// <summary>Maps <paramref name="path"/> and builds weight views.</summary>
    public static (ModelConfig Config, ModelWeights Weights) Load(string path, Func<int, bool>? loadLayer)
    {
        var file = MappedFile.Open(path);
        try
        {
            var h = ReadHeader(file);
            var c = h.Config;
            long expected = ExpectedBytes(h);
            if (file.Length != expected)
            {
                string what = file.Length < expected ? "truncated" : "longer than its header says";
                throw new ModelLoadException(path, "size",
                    $"file is {what}: the v{h.Version} header (dim {c.Dim}, hidden {c.HiddenDim}, layers {c.NLayers}, heads {c.NHeads}, kv heads {c.NKvHeads}, vocab {c.VocabSize}, seq {c.MaxSeqLen}) needs {expected} bytes, the file has {file.Length}");
            }
            var cursor = new Cursor(file.Pointer + (h.Version == 0 ? LegacyHeaderBytes : HeaderBytes), h.Version == 2 ? h.GroupSize : 0);
            int L = c.NLayers, dim = c.Dim;

            Matrix embedding, rmsFinal;
            Matrix[] rmsAtt, rmsFfn;
            LayerMatrices matrices;
            if (h.Version == 0)
            {
                embedding = cursor.Weights(c.VocabSize, dim);
                rmsAtt = cursor.Norms(L, dim);
                matrices = ReadLayerMatricesV0(cursor, c, out rmsFfn);
                rmsFinal = cursor.Norms(1, dim)[0];
                cursor.Skip((long)c.MaxSeqLen * c.HeadSize); // legacy freq_cis_real and freq_cis_imag tables, unused
            }
            else
            {
                // v1/v2 put every float32 norm first.
                rmsAtt = cursor.Norms(L, dim);
                rmsFfn = cursor.Norms(L, dim);
                rmsFinal = cursor.Norms(1, dim)[0];
                embedding = cursor.Weights(c.VocabSize, dim);
                matrices = ReadLayerMatrices(cursor, c);
            }
            var classifier = c.SharedClassifier ? embedding : cursor.Weights(c.VocabSize, dim);
            return (c, Build(c, embedding, rmsAtt, rmsFfn, matrices, rmsFinal, classifier, loadLayer, file));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private sealed record LayerMatrices(Matrix[] Wq, Matrix[] Wk, Matrix[] Wv, Matrix[] Wo, Matrix[] W1, Matrix[] W2, Matrix[] W3);

    private static LayerMatrices ReadLayerMatrices(Cursor k, ModelConfig c)
    {
        int L = c.NLayers, dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim;
        return new LayerMatrices(k.Stack(L, dim, dim), k.Stack(L, kv, dim), k.Stack(L, kv, dim), k.Stack(L, dim, dim),
                                 k.Stack(L, hid, dim), k.Stack(L, dim, hid), k.Stack(L, hid, dim));
    }

    private static LayerMatrices ReadLayerMatricesV0(Cursor k, ModelConfig c, out Matrix[] rmsFfn)
    {
        int L = c.NLayers, dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim;
        var wq = k.Stack(L, dim, dim);
        var wk = k.Stack(L, kv, dim);
        var wv = k.Stack(L, kv, dim);
        var wo = k.Stack(L, dim, dim);
        rmsFfn = k.Norms(L, dim);
        return new LayerMatrices(wq, wk, wv, wo, k.Stack(L, hid, dim), k.Stack(L, dim, hid), k.Stack(L, hid, dim));
    }

    private static ModelWeights Build(ModelConfig c, Matrix embedding, Matrix[] rmsAtt, Matrix[] rmsFfn, LayerMatrices m,
                                      Matrix rmsFinal, Matrix classifier, Func<int, bool>? loadLayer, MappedFile file)
    {
        var layers = new LayerWeights?[c.NLayers];
        for (int l = 0; l < c.NLayers; l++)
        {
            if (loadLayer != null && !loadLayer(l)) continue;
            layers[l] = new LayerWeights
            {
                RmsAtt = rmsAtt[l], Wq = m.Wq[l], Wk = m.Wk[l], Wv = m.Wv[l], Wo = m.Wo[l],
                RmsFfn = rmsFfn[l], W1 = m.W1[l], W2 = m.W2[l], W3 = m.W3[l],
            };
        }
        return new ModelWeights(embedding, layers, rmsFinal, classifier, [file]);
    }

    /// <summary>Bytes a file with this header must have.</summary>
    private static long ExpectedBytes(Header h)
    {
        var c = h.Config;
        long dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim, L = c.NLayers, vocab = c.VocabSize;
        long norms = 2 * L * dim + dim;
        long matrices = vocab * dim + L * (2 * dim * dim + 2 * kv * dim + 3 * hid * dim) + (c.SharedClassifier ? 0 : vocab * dim);
        return h.Version switch
        {
            0 => LegacyHeaderBytes + 4 * (norms + matrices + (long)c.MaxSeqLen * c.HeadSize),
            1 => HeaderBytes + 4 * (norms + matrices),
            _ => HeaderBytes + 4 * norms + matrices + 4 * (matrices / h.GroupSize),
        };
    }

    /// <summary>Number of floats a v0 file with this header holds after the header.</summary>
    internal static long FloatCount(ModelConfig c) => (ExpectedBytes(new Header(c, 0, 0)) - LegacyHeaderBytes) / 4;

    /// <summary>Walks the tensors in file order. In v2 files matrices are int8 values followed by their scales.</summary>
    private sealed class Cursor(byte* start, int groupSize)
    {
        private byte* _p = start;

        public Matrix[] Norms(int count, int dim)
        {
            var result = new Matrix[count];
            for (int i = 0; i < count; i++)
            {
                result[i] = new Matrix((float*)_p, 1, dim);
                _p += (long)dim * 4;
            }
            return result;
        }

        public Matrix Weights(int rows, int cols)
        {
            long n = (long)rows * cols;
            if (groupSize == 0)
            {
                var m = new Matrix((float*)_p, rows, cols);
                _p += n * 4;
                return m;
            }
            var q = (sbyte*)_p;
            var s = (float*)(_p + n);
            _p += n + n / groupSize * 4;
            return new Matrix(q, s, rows, cols, groupSize);
        }

        public Matrix[] Stack(int layers, int rows, int cols)
        {
            var result = new Matrix[layers];
            for (int l = 0; l < layers; l++) result[l] = Weights(rows, cols);
            return result;
        }

        public void Skip(long floats) => _p += floats * 4;
    }
}
