namespace FiRST.Runtime.Inference;

/// <summary>
/// Scratch buffers of a batched prefill step over up to <see cref="Capacity"/> tokens (token-major rows),
/// allocated the first time a session prefills.
/// </summary>
internal sealed class BatchState
{
    public BatchState(ModelConfig c, int capacity)
    {
        Capacity = capacity;
        X = new float[capacity * c.Dim];
        Xb = new float[capacity * c.Dim];
        Xb2 = new float[capacity * c.Dim];
        Q = new float[capacity * c.Dim];
        Hb = new float[capacity * c.HiddenDim];
        Hb2 = new float[capacity * c.HiddenDim];
    }

    /// <summary>Tokens one chunk holds.</summary>
    public int Capacity { get; }
    /// <summary>Residual streams <c>[T, dim]</c>.</summary>
    public float[] X { get; }
    /// <summary>Normed inputs, then attention outputs <c>[T, dim]</c>.</summary>
    public float[] Xb { get; }
    /// <summary>Projection outputs added to the residual <c>[T, dim]</c>.</summary>
    public float[] Xb2 { get; }
    /// <summary>Queries <c>[T, dim]</c>.</summary>
    public float[] Q { get; }
    /// <summary>Gate activations <c>[T, hidden]</c>.</summary>
    public float[] Hb { get; }
    /// <summary>Up activations <c>[T, hidden]</c>.</summary>
    public float[] Hb2 { get; }
}
