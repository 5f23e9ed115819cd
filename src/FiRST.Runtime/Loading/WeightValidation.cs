using System.Numerics.Tensors;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Finds NaN and infinite weights at load, naming the tensor: a corrupt or badly converted checkpoint
/// otherwise shows up only as garbage text much later.
/// </summary>
internal static unsafe class WeightValidation
{
    /// <summary>Models up to this many bytes of weights are checked unless the caller says otherwise.</summary>
    public const long DefaultLimitBytes = 1L << 30;

    public static void CheckFinite(ModelWeights w, string path)
    {
        Check(w.TokenEmbedding, "token_embedding", path);
        for (int l = 0; l < w.Layers.Count; l++)
        {
            if (w.Layers[l] is not { } layer) continue;
            string p = $"layers.{l}.";
            Check(layer.RmsAtt, p + "rms_att", path);
            Check(layer.Wq, p + "wq", path);
            Check(layer.Wk, p + "wk", path);
            Check(layer.Wv, p + "wv", path);
            Check(layer.Wo, p + "wo", path);
            Check(layer.RmsFfn, p + "rms_ffn", path);
            Check(layer.W1, p + "w1", path);
            Check(layer.W2, p + "w2", path);
            Check(layer.W3, p + "w3", path);
        }
        Check(w.RmsFinal, "rms_final", path);
        Check(w.Classifier, "classifier", path);
    }

    /// <summary>Throws naming <paramref name="path"/> and tensor <paramref name="name"/> if any weight of <paramref name="m"/> is NaN or infinite.</summary>
    public static void Check(Matrix m, string name, string path)
    {
        if (m.IsBFloat16)
        {
            CheckBFloat16(m, name, path);
            return;
        }
        // Quantized values are integers; only their scales can be non-finite.
        float* p = m.IsQuantized ? m.Scales : m.Data;
        long count = m.IsQuantized ? m.Length / m.GroupSize : m.Length;
        const int Slice = 1 << 24;
        for (long start = 0; start < count; start += Slice)
        {
            var span = new ReadOnlySpan<float>(p + start, (int)Math.Min(Slice, count - start));
            // MaxMagnitude is NaN if any element is NaN and infinite if any is infinite.
            if (float.IsFinite(TensorPrimitives.MaxMagnitude(span))) continue;
            for (int i = 0; i < span.Length; i++)
                if (!float.IsFinite(span[i]))
                {
                    long index = start + i;
                    string what = m.IsQuantized ? "scale" : "element";
                    throw new ModelLoadException(path, name, $"{what} {index} is {span[i]}; weights must be finite numbers");
                }
        }
    }

    /// <summary>A bfloat16 value is NaN or infinite when its eight exponent bits are all ones, as in float32.</summary>
    private static void CheckBFloat16(Matrix m, string name, string path)
    {
        ushort* p = m.BFloat16;
        for (long i = 0; i < m.Length; i++)
            if ((p[i] & 0x7F80) == 0x7F80)
                throw new ModelLoadException(path, name, $"element {i} is {Kernels.BFloat16Kernels.ToFloat(p[i])}; weights must be finite numbers");
    }
}
