namespace FiRST.Runtime.Loading;

/// <summary>
/// Symmetric group-wise int8 quantization ("Q8_0", as llama2.c's <c>export.py --version 2</c>): each group of
/// <c>groupSize</c> consecutive weights gets the scale <c>max|w| / 127</c> and values <c>round(w / scale)</c>.
/// </summary>
internal static unsafe class Quantizer
{
    /// <summary>The group size used when none is given.</summary>
    public const int DefaultGroupSize = 32;

    /// <summary>
    /// The group size for a model: <paramref name="preferred"/> halved until it divides every row length
    /// (dim and hidden_dim), since groups must not straddle rows. llama2.c's shapes keep 32; stories260K
    /// (hidden 172) gets 4.
    /// </summary>
    public static int GroupSizeFor(ModelConfig config, int preferred = DefaultGroupSize)
    {
        if (preferred <= 0 || (preferred & (preferred - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(preferred), preferred, "the group size must be a power of two");
        int gs = preferred;
        while (config.Dim % gs != 0 || config.HiddenDim % gs != 0) gs /= 2;
        return gs;
    }

    /// <summary>Quantizes a float32 or bfloat16 matrix into new buffers added to <paramref name="owned"/>.</summary>
    internal static Matrix Quantize(Matrix m, int groupSize, List<IDisposable> owned)
    {
        if (m.IsQuantized) return Repack(m, owned);
        var q = NativeBuffer.SBytes(m.Length);
        var s = NativeBuffer.Floats(m.Length / groupSize);
        if (m.IsBFloat16)
        {
            // Widened a row at a time (groups never straddle rows), so quantizing a bfloat16 matrix holds one row
            // of float32 beside it, not a float32 copy twice its size (512 MiB for a 7B's embedding).
            using var wide = NativeBuffer.Floats(m.Cols);
            long groupsPerRow = m.Cols / groupSize;
            for (int r = 0; r < m.Rows; r++)
            {
                m.CopyRow(r, new Span<float>(wide.Data, m.Cols));
                Quantize(wide.Data, m.Cols, groupSize, q.SByteData + (long)r * m.Cols, s.Data + r * groupsPerRow);
            }
        }
        else Quantize(m.Data, m.Length, groupSize, q.SByteData, s.Data);
        var quantized = new Matrix(q.SByteData, s.Data, m.Rows, m.Cols, groupSize);
        var repacked = Repack(quantized, owned);
        if (repacked.IsInterleaved)
        {
            q.Dispose();
            s.Dispose();
        }
        else
        {
            owned.Add(q);
            owned.Add(s);
        }
        return repacked;
    }

    /// <summary>
    /// A row-major int8 matrix copied into the interleaved order (new buffers added to <paramref name="owned"/>)
    /// when its shape allows; otherwise the matrix itself.
    /// </summary>
    internal static Matrix Repack(Matrix m, List<IDisposable> owned)
    {
        if (m.IsInterleaved || !Q8Layout.CanInterleave(m.Cols, m.GroupSize)) return m;
        var q = NativeBuffer.SBytes(m.Length);
        owned.Add(q);
        var s = NativeBuffer.Floats(m.Length / m.GroupSize);
        owned.Add(s);
        Q8Layout.Interleave(m.Quantized, m.Scales, m.Rows, m.Cols, m.GroupSize, q.SByteData, s.Data);
        return new Matrix(q.SByteData, s.Data, m.Rows, m.Cols, m.GroupSize, interleaved: true);
    }

    /// <summary>Quantizes <paramref name="length"/> floats (a multiple of <paramref name="groupSize"/>).</summary>
    public static void Quantize(float* w, long length, int groupSize, sbyte* q, float* scales)
    {
        for (long g = 0; g < length / groupSize; g++)
        {
            float* src = w + g * groupSize;
            float max = 0;
            for (int i = 0; i < groupSize; i++) max = Math.Max(max, Math.Abs(src[i]));
            float scale = max / 127f;
            scales[g] = scale;
            float inverse = scale == 0 ? 0 : 1f / scale;
            for (int i = 0; i < groupSize; i++) q[g * groupSize + i] = (sbyte)Math.Round(src[i] * inverse, MidpointRounding.ToEven);
        }
    }

    /// <summary>A copy of <paramref name="weights"/> with every matrix product's weights quantized (norms stay float32).</summary>
    internal static ModelWeights QuantizeAll(ModelWeights weights, int groupSize, IDisposable[] keepAlive)
    {
        var owned = new List<IDisposable>(keepAlive);
        try
        {
            var embedding = Quantize(weights.TokenEmbedding, groupSize, owned);
            bool shared = weights.Classifier.SameMemory(weights.TokenEmbedding);
            var classifier = shared ? embedding : Quantize(weights.Classifier, groupSize, owned);
            var layers = new LayerWeights?[weights.Layers.Count];
            for (int l = 0; l < layers.Length; l++)
            {
                if (weights.Layers[l] is not { } w) continue;
                layers[l] = new LayerWeights
                {
                    RmsAtt = w.RmsAtt, RmsFfn = w.RmsFfn,
                    Wq = Quantize(w.Wq, groupSize, owned), Wk = Quantize(w.Wk, groupSize, owned),
                    Wv = Quantize(w.Wv, groupSize, owned), Wo = Quantize(w.Wo, groupSize, owned),
                    W1 = Quantize(w.W1, groupSize, owned), W2 = Quantize(w.W2, groupSize, owned),
                    W3 = Quantize(w.W3, groupSize, owned),
                };
            }
            return new ModelWeights(embedding, layers, weights.RmsFinal, classifier, owned.ToArray());
        }
        catch
        {
            foreach (var d in owned.Skip(keepAlive.Length)) d.Dispose();
            throw;
        }
    }
}
