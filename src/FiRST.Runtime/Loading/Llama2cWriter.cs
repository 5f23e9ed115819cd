using System.Buffers.Binary;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Saves int8 models in llama2.c's version-2 (Q8_0) format, the format its <c>runq.c</c> reads, so a model
/// quantized once loads without the float32 file and runs in either program.
/// </summary>
internal static unsafe class Llama2cWriter
{
    /// <summary>
    /// Writes <paramref name="model"/>, whose weights must be quantized and all loaded, to <paramref name="path"/>;
    /// <paramref name="progress"/> receives the share of the quantized matrices written (0..1). Cancelled (checked
    /// before each matrix) or failed, it leaves no file rather than a truncated one.
    /// </summary>
    public static void WriteQ8(LlamaModel model, string path, IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var w = model.Weights;
        var c = model.Config;
        if (!w.IsInt8) throw new ArgumentException("the model's weights are not int8; load it with WeightFormat.Q8 first", nameof(model));
        Llama2cCheckpoint.EnsureRepresentable(c, path);
        var layers = new LayerWeights[c.NLayers];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = w.Layers[l] ?? throw new ArgumentException($"layer {l} is not loaded; a saved model needs every layer", nameof(model));

        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        try
        {
            using (file) Write(file, model, layers, progress, cancellationToken);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private static void Write(FileStream file, LlamaModel model, LayerWeights[] layers, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        var w = model.Weights;
        var c = model.Config;
        var header = new byte[256];
        int[] fields = [Llama2cCheckpoint.Magic, 2, c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKvHeads, c.VocabSize, c.MaxSeqLen];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 * i), fields[i]);
        header[36] = c.SharedClassifier ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(37), w.GroupSize);
        file.Write(header);

        foreach (var l in layers) WriteFloats(file, l.RmsAtt);
        foreach (var l in layers) WriteFloats(file, l.RmsFfn);
        WriteFloats(file, w.RmsFinal);
        int matrices = 1 + 7 * layers.Length + (c.SharedClassifier ? 0 : 1), written = 0;
        void Quantized(Matrix m)
        {
            cancellationToken.ThrowIfCancellationRequested();
            WriteQuantized(file, m);
            progress?.Report((double)++written / matrices);
        }
        Quantized(w.TokenEmbedding);
        foreach (var pick in new Func<LayerWeights, Matrix>[] { l => l.Wq, l => l.Wk, l => l.Wv, l => l.Wo, l => l.W1, l => l.W2, l => l.W3 })
            foreach (var l in layers) Quantized(pick(l));
        if (!c.SharedClassifier) Quantized(w.Classifier);
    }

    private static void WriteFloats(Stream s, Matrix m) => s.Write(new ReadOnlySpan<byte>(m.Data, checked((int)(m.Length * 4))));

    private static void WriteQuantized(Stream s, Matrix m)
    {
        if (!m.IsInt8) throw new InvalidOperationException("expected an int8 matrix");
        // The file is row-major: all values, then all scales.
        var values = new sbyte[m.Cols];
        var scales = new float[m.Cols / m.GroupSize];
        for (int r = 0; r < m.Rows; r++)
        {
            Q8Layout.ReadRow(m, r, values, scales);
            s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }
        for (int r = 0; r < m.Rows; r++)
        {
            Q8Layout.ReadRow(m, r, values, scales);
            s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scales.AsSpan()));
        }
    }
}
