namespace FiRST.Runtime.Inference;

/// <summary>
/// Scratch buffers of one forward step, allocated once per session (llama2.c's <c>RunState</c>).
/// Shapes are noted beside each buffer.
/// </summary>
internal sealed class RunState
{
    public RunState(ModelConfig c)
    {
        X = new float[c.Dim];
        Xb = new float[c.Dim];
        Xb2 = new float[c.Dim];
        Hb = new float[c.HiddenDim];
        Hb2 = new float[c.HiddenDim];
        Q = new float[c.Dim];
        K = new float[c.KvDim];
        V = new float[c.KvDim];
        Att = new float[(long)c.NHeads * c.MaxSeqLen];
        Logits = new float[c.VocabSize];
    }

    /// <summary>Residual stream <c>[dim]</c>.</summary>
    public float[] X { get; }
    /// <summary>Normed input / attention output <c>[dim]</c>.</summary>
    public float[] Xb { get; }
    /// <summary>Projection output added to the residual <c>[dim]</c>.</summary>
    public float[] Xb2 { get; }
    /// <summary>Gate activations <c>[hidden]</c>.</summary>
    public float[] Hb { get; }
    /// <summary>Up activations <c>[hidden]</c>.</summary>
    public float[] Hb2 { get; }
    /// <summary>Query <c>[dim]</c>.</summary>
    public float[] Q { get; }
    /// <summary>Key of the current position <c>[kv_dim]</c>.</summary>
    public float[] K { get; }
    /// <summary>Value of the current position <c>[kv_dim]</c>.</summary>
    public float[] V { get; }
    /// <summary>Attention scores <c>[n_heads, max_seq_len]</c>.</summary>
    public float[] Att { get; }
    /// <summary>Output logits <c>[vocab]</c>.</summary>
    public float[] Logits { get; }
}
