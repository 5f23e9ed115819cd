namespace FiRST.Runtime.Inference;

/// <summary>
/// Scratch buffers of one forward step, allocated once per session (llama2.c's <c>RunState</c>).
/// Shapes are noted beside each buffer. The current position's key and value go straight into the KV cache.
/// </summary>
internal sealed class RunState
{
    public RunState(ModelConfig c)
    {
        X = AlignedBuffer.Floats(c.Dim);
        Xb = AlignedBuffer.Floats(c.Dim);
        Xb2 = AlignedBuffer.Floats(c.Dim);
        Hb = AlignedBuffer.Floats(c.HiddenDim);
        Hb2 = AlignedBuffer.Floats(c.HiddenDim);
        Q = AlignedBuffer.Floats(c.Dim);
        Att = AlignedBuffer.Floats((long)c.NHeads * c.MaxSeqLen);
        Logits = AlignedBuffer.Floats(c.VocabSize);
    }

    /// <summary>Residual stream <c>[dim]</c>.</summary>
    public ArraySegment<float> X { get; }
    /// <summary>Normed input / attention output <c>[dim]</c>.</summary>
    public ArraySegment<float> Xb { get; }
    /// <summary>Projection output added to the residual <c>[dim]</c>.</summary>
    public ArraySegment<float> Xb2 { get; }
    /// <summary>Gate activations <c>[hidden]</c>.</summary>
    public ArraySegment<float> Hb { get; }
    /// <summary>Up activations <c>[hidden]</c>.</summary>
    public ArraySegment<float> Hb2 { get; }
    /// <summary>Query <c>[dim]</c>.</summary>
    public ArraySegment<float> Q { get; }
    /// <summary>Attention scores <c>[n_heads, max_seq_len]</c>.</summary>
    public ArraySegment<float> Att { get; }
    /// <summary>Output logits <c>[vocab]</c>.</summary>
    public ArraySegment<float> Logits { get; }
}
