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
        X = AlignedBuffer.Floats(capacity * c.Dim);
        Xb = AlignedBuffer.Floats(capacity * c.Dim);
        Xb2 = AlignedBuffer.Floats(capacity * c.Dim);
        Q = AlignedBuffer.Floats(capacity * c.Dim);
        Hb = AlignedBuffer.Floats(capacity * c.HiddenDim);
        Hb2 = AlignedBuffer.Floats(capacity * c.HiddenDim);
    }

    /// <summary>Most tokens a batch may hold.</summary>
    public int Capacity { get; }
    /// <summary>Residual streams <c>[T, dim]</c>.</summary>
    public ArraySegment<float> X { get; }
    /// <summary>Normed inputs, then attention outputs <c>[T, dim]</c>.</summary>
    public ArraySegment<float> Xb { get; }
    /// <summary>Projection outputs added to the residual <c>[T, dim]</c>.</summary>
    public ArraySegment<float> Xb2 { get; }
    /// <summary>Queries <c>[T, dim]</c>.</summary>
    public ArraySegment<float> Q { get; }
    /// <summary>Gate activations <c>[T, hidden]</c>.</summary>
    public ArraySegment<float> Hb { get; }
    /// <summary>Up activations <c>[T, hidden]</c>.</summary>
    public ArraySegment<float> Hb2 { get; }
}
