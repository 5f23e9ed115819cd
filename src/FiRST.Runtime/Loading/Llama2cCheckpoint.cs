namespace FiRST.Runtime.Loading;

/// <summary>
/// Reads llama2.c "v0" checkpoints: seven int32 header fields then float32 tensors in a fixed order
/// (see <c>../shared/models/README.md</c>). The file is memory-mapped; tensors are views into the map.
/// </summary>
internal static unsafe class Llama2cCheckpoint
{
    private const int HeaderBytes = 7 * sizeof(int);

    /// <summary>"ak42", the magic of llama2.c's newer (v1/v2) export formats, which this loader does not read.</summary>
    private const int NewFormatMagic = 0x616b3432;

    /// <summary>Reads and validates the header only (no mapping of the weights is kept).</summary>
    public static ModelConfig ReadConfig(MappedFile file)
    {
        if (file.Length < HeaderBytes)
            throw new ModelLoadException(file.Path, "header", $"file is truncated: {file.Length} bytes, a llama2.c header needs {HeaderBytes}");
        if (file.ReadInt32(0) == NewFormatMagic)
            throw new ModelLoadException(file.Path, "header", "this is a llama2.c v1/v2 export (magic 'ak42'); only the legacy v0 format is supported (export with --version 0)");

        int vocab = file.ReadInt32(20);
        var config = new ModelConfig
        {
            Dim = file.ReadInt32(0),
            HiddenDim = file.ReadInt32(4),
            NLayers = file.ReadInt32(8),
            NHeads = file.ReadInt32(12),
            NKvHeads = file.ReadInt32(16),
            // A negative vocabulary size is llama2.c's way of saying the classifier is stored separately.
            VocabSize = vocab == int.MinValue ? 0 : Math.Abs(vocab),
            MaxSeqLen = file.ReadInt32(24),
            SharedClassifier = vocab > 0,
        };
        config.Validate(file.Path);
        return config;
    }

    /// <summary>Maps <paramref name="path"/> and builds weight views, checking the size before touching any tensor.</summary>
    public static (ModelConfig Config, ModelWeights Weights) Load(string path, Func<int, bool>? loadLayer)
    {
        var file = MappedFile.Open(path);
        try
        {
            var c = ReadConfig(file);
            long expected = HeaderBytes + 4 * FloatCount(c);
            if (file.Length != expected)
            {
                string what = file.Length < expected ? "truncated" : "longer than its header says";
                throw new ModelLoadException(path, "size",
                    $"file is {what}: the header (dim {c.Dim}, hidden {c.HiddenDim}, layers {c.NLayers}, heads {c.NHeads}, kv heads {c.NKvHeads}, vocab {c.VocabSize}, seq {c.MaxSeqLen}) needs {expected} bytes, the file has {file.Length}");
            }

            float* p = (float*)(file.Pointer + HeaderBytes);
            int L = c.NLayers, dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim;
            Matrix Take(int rows, int cols)
            {
                var m = new Matrix(p, rows, cols);
                p += (long)rows * cols;
                return m;
            }

            var embedding = Take(c.VocabSize, dim);
            // Tensors are stored grouped by kind across layers: all rms_att, then all wq, and so on.
            var rmsAtt = Stack(ref p, L, 1, dim);
            var wq = Stack(ref p, L, dim, dim);
            var wk = Stack(ref p, L, kv, dim);
            var wv = Stack(ref p, L, kv, dim);
            var wo = Stack(ref p, L, dim, dim);
            var rmsFfn = Stack(ref p, L, 1, dim);
            var w1 = Stack(ref p, L, hid, dim);
            var w2 = Stack(ref p, L, dim, hid);
            var w3 = Stack(ref p, L, hid, dim);
            var rmsFinal = Take(1, dim);
            p += (long)c.MaxSeqLen * c.HeadSize; // legacy freq_cis_real and freq_cis_imag tables, unused
            var classifier = c.SharedClassifier ? embedding : Take(c.VocabSize, dim);

            var layers = new LayerWeights?[L];
            for (int l = 0; l < L; l++)
            {
                if (loadLayer != null && !loadLayer(l)) continue;
                layers[l] = new LayerWeights
                {
                    RmsAtt = rmsAtt[l], Wq = wq[l], Wk = wk[l], Wv = wv[l], Wo = wo[l],
                    RmsFfn = rmsFfn[l], W1 = w1[l], W2 = w2[l], W3 = w3[l],
                };
            }
            return (c, new ModelWeights(embedding, layers, rmsFinal, classifier, [file]));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Number of floats a v0 file with this header holds after the header.</summary>
    internal static long FloatCount(ModelConfig c)
    {
        long dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim, L = c.NLayers, vocab = c.VocabSize;
        return vocab * dim
               + L * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hid * dim)
               + dim
               + (long)c.MaxSeqLen * c.HeadSize
               + (c.SharedClassifier ? 0 : vocab * dim);
    }

    private static Matrix[] Stack(ref float* p, int layers, int rows, int cols)
    {
        var result = new Matrix[layers];
        for (int l = 0; l < layers; l++)
        {
            result[l] = new Matrix(p, rows, cols);
            p += (long)rows * cols;
        }
        return result;
    }
}
