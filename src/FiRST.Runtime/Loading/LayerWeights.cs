namespace FiRST.Runtime.Loading;

/// <summary>The weights of one transformer layer, llama2.c naming, matrices row-major <c>[out, in]</c>.</summary>
internal sealed class LayerWeights
{
    /// <summary>RMSNorm gain before attention <c>[dim]</c>.</summary>
    public required Matrix RmsAtt { get; init; }
    /// <summary>Query projection <c>[dim, dim]</c>, rows in interleaved (llama2.c) RoPE order.</summary>
    public required Matrix Wq { get; init; }
    /// <summary>Key projection <c>[kv_dim, dim]</c>, rows in interleaved (llama2.c) RoPE order.</summary>
    public required Matrix Wk { get; init; }
    /// <summary>Value projection <c>[kv_dim, dim]</c>.</summary>
    public required Matrix Wv { get; init; }
    /// <summary>Attention output projection <c>[dim, dim]</c>.</summary>
    public required Matrix Wo { get; init; }
    /// <summary>RMSNorm gain before the feed-forward block <c>[dim]</c>.</summary>
    public required Matrix RmsFfn { get; init; }
    /// <summary>Gate projection <c>[hidden, dim]</c>.</summary>
    public required Matrix W1 { get; init; }
    /// <summary>Down projection <c>[dim, hidden]</c>.</summary>
    public required Matrix W2 { get; init; }
    /// <summary>Up projection <c>[hidden, dim]</c>.</summary>
    public required Matrix W3 { get; init; }

    /// <summary>Bytes of weights in this layer (int8 values plus scales for quantized matrices).</summary>
    public long Bytes => RmsAtt.Bytes + Wq.Bytes + Wk.Bytes + Wv.Bytes + Wo.Bytes + RmsFfn.Bytes + W1.Bytes + W2.Bytes + W3.Bytes;
}
