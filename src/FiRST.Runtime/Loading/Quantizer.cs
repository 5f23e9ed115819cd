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

    /// <summary>
    /// Quantizes a float32 or bfloat16 matrix into new buffers added to <paramref name="owned"/>, in the interleaved
    /// order where the shape allows. A row at a time (groups never straddle rows): a row is widened (bfloat16),
    /// quantized and stored at its place, so nothing but the result and one row is held (no float32 copy of a
    /// bfloat16 matrix, 512 MiB for a 7B's embedding, nor a row-major int8 copy to reorder).
    /// </summary>
    internal static Matrix Quantize(Matrix m, int groupSize, List<IDisposable> owned)
    {
        if (m.IsFourBit) return m;
        if (m.IsInt8) return Repack(m, owned);
        bool interleaved = Q8Layout.CanInterleave(m.Cols, groupSize);
        var q = NativeBuffer.SBytes(m.Length);
        owned.Add(q);
        var s = NativeBuffer.Floats(m.Length / groupSize);
        owned.Add(s);
        using var wide = NativeBuffer.Floats(m.Cols);
        using var rowValues = NativeBuffer.SBytes(m.Cols);
        using var rowScales = NativeBuffer.Floats(m.Cols / groupSize);
        for (int r = 0; r < m.Rows; r++)
        {
            float* row = m.Data + (long)r * m.Cols;
            if (m.IsBFloat16)
            {
                m.CopyRow(r, new Span<float>(wide.Data, m.Cols));
                row = wide.Data;
            }
            Quantize(row, m.Cols, groupSize, rowValues.SByteData, rowScales.Data);
            Q8Layout.PlaceRow(rowValues.SByteData, rowScales.Data, interleaved, m.Rows, m.Cols, groupSize, r, q.SByteData, s.Data);
        }
        return new Matrix(q.SByteData, s.Data, m.Rows, m.Cols, groupSize, interleaved);
    }

    /// <summary>
    /// <paramref name="m"/> in <paramref name="format"/>: 4-bit where its rows are whole groups of 32 (int8 in
    /// groups of <paramref name="groupSize"/> otherwise, as for <see cref="WeightFormat.Q8"/>). Quantized weights
    /// stay as they are (int8 ones repacked).
    /// </summary>
    internal static Matrix Quantize(Matrix m, WeightFormat format, int groupSize, List<IDisposable> owned) =>
        format == WeightFormat.Q4 && !m.IsQuantized && Q4Layout.CanHold(m.Cols) ? QuantizeFourBit(m, owned) : Quantize(m, groupSize, owned);

    /// <summary>
    /// The format a matrix gets when the model is quantized to <paramref name="format"/>: the classifier (and the
    /// embedding, often the same matrix) stays int8 in a 4-bit model, as llama.cpp keeps its output matrix at 6
    /// bits. Every token's logits come out of it, and it is where 4 bits cost the most: on the 15M and 110M
    /// shapes, same-context greedy agreement with float32 went from 76% and 80% to 83% and 84% with it int8
    /// (reading 17% more bytes per token at 110M: 81 MB instead of 69).
    /// </summary>
    internal static WeightFormat FormatOf(WeightFormat format, bool classifier) => format == WeightFormat.Q4 && classifier ? WeightFormat.Q8 : format;

    /// <summary>
    /// A float32 or bfloat16 matrix quantized to 4 bits (<see cref="Q4Layout"/>) into new buffers added to
    /// <paramref name="owned"/>, a row at a time as <see cref="Quantize(Matrix, int, List{IDisposable})"/>.
    /// </summary>
    internal static Matrix QuantizeFourBit(Matrix m, List<IDisposable> owned)
    {
        var nibbles = NativeBuffer.Raw(m.Length / 2);
        owned.Add(nibbles);
        var scales = NativeBuffer.Floats(m.Length / Q4Layout.GroupSize);
        owned.Add(scales);
        // The scale search costs about 20 times int8's rounding: rows go to every core (each writes its own bytes).
        byte* n = nibbles.ByteData;
        float* s = scales.Data;
        Parallel.For(0, (m.Rows + 63) / 64, () => NativeBuffer.Floats(m.Cols), (chunk, _, wide) =>
        {
            for (int r = chunk * 64; r < Math.Min(m.Rows, chunk * 64 + 64); r++)
            {
                float* row = m.Data + (long)r * m.Cols;
                if (m.IsBFloat16)
                {
                    m.CopyRow(r, new Span<float>(wide.Data, m.Cols));
                    row = wide.Data;
                }
                Q4Layout.QuantizeRow(row, m.Rows, m.Cols, r, n, s);
            }
            return wide;
        }, wide => wide.Dispose());
        return Matrix.FourBit(nibbles.ByteData, scales.Data, m.Rows, m.Cols);
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

    /// <summary>Quantizes <paramref name="length"/> floats (a multiple of <paramref name="groupSize"/>), as activations are quantized.</summary>
    public static void Quantize(float* w, long length, int groupSize, sbyte* q, float* scales) =>
        Kernels.Int8Activations.Quantize(w, checked((int)length), groupSize, q, scales, null);

    /// <summary>A copy of <paramref name="weights"/> with every matrix product's weights quantized (norms stay float32).</summary>
    internal static ModelWeights QuantizeAll(ModelWeights weights, int groupSize, IDisposable[] keepAlive) =>
        QuantizeAll(weights, WeightFormat.Q8, groupSize, keepAlive);

    /// <summary>
    /// A copy of <paramref name="weights"/> with every matrix product's weights in <paramref name="format"/> (see
    /// <see cref="Quantize(Matrix, WeightFormat, int, List{IDisposable})"/>; norms stay float32).
    /// </summary>
    internal static ModelWeights QuantizeAll(ModelWeights weights, WeightFormat format, int groupSize, IDisposable[] keepAlive)
    {
        var owned = new List<IDisposable>(keepAlive);
        Matrix Quantize(Matrix m, int gs, List<IDisposable> o) => Quantizer.Quantize(m, format, gs, o);
        try
        {
            var embedding = Quantizer.Quantize(weights.TokenEmbedding, FormatOf(format, classifier: true), groupSize, owned);
            bool shared = weights.Classifier.SameMemory(weights.TokenEmbedding);
            var classifier = shared ? embedding : Quantizer.Quantize(weights.Classifier, FormatOf(format, classifier: true), groupSize, owned);
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
