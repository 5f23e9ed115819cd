namespace FiRST.Runtime.Loading;

/// <summary>
/// All weights of a model as views into memory this object owns (memory maps, converted buffers).
/// A layer entry is <c>null</c> when it was not loaded because no caller will ever run it.
/// </summary>
internal sealed class ModelWeights : IDisposable
{
    private readonly IDisposable[] _owned;

    internal ModelWeights(Matrix tokenEmbedding, LayerWeights?[] layers, Matrix rmsFinal, Matrix classifier, IDisposable[] owned)
    {
        TokenEmbedding = tokenEmbedding;
        Layers = layers;
        RmsFinal = rmsFinal;
        Classifier = classifier;
        _owned = owned;
    }

    /// <summary>Token embedding table <c>[vocab, dim]</c>.</summary>
    public Matrix TokenEmbedding { get; }

    /// <summary>Per-layer weights; <c>null</c> for a layer that was not loaded.</summary>
    public IReadOnlyList<LayerWeights?> Layers { get; }

    /// <summary>Final RMSNorm gain <c>[dim]</c>.</summary>
    public Matrix RmsFinal { get; }

    /// <summary>Classifier <c>[vocab, dim]</c> (the embedding table when shared).</summary>
    public Matrix Classifier { get; }

    /// <summary>True when the matrix products use int8 or 4-bit weights.</summary>
    public bool IsQuantized => Classifier.IsQuantized;

    /// <summary>True when the classifier (and so, as loaded, the matrix products) is int8.</summary>
    public bool IsInt8 => Classifier.IsInt8;

    /// <summary>How the layers' matrix products are held: f32, bf16, q8 or q4 (the first loaded layer's query
    /// projection's format; the classifier's when no layer is loaded; a 4-bit model keeps its classifier int8).</summary>
    public string FormatName => Representative.FormatName;

    /// <summary>The matrix <see cref="FormatName"/> and <see cref="GroupSize"/> describe.</summary>
    private Matrix Representative => Layers.FirstOrDefault(l => l is not null) is { } l ? l.Wq : Classifier;

    /// <summary>Quantization group size (0 for float32 weights).</summary>
    public int GroupSize => Representative.GroupSize;

    /// <summary>Releases the memory maps and buffers; every <see cref="Matrix"/> from this object dies with it.</summary>
    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
    }
}
