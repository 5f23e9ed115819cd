using FiRST.Runtime;
using FiRST.Runtime.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FiRST.Training.Model;

/// <summary>One transformer layer: attention and SwiGLU blocks, each behind an RMSNorm and a residual add.</summary>
public sealed class TorchLlamaLayer : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly ModelConfig _c;

    internal TorchLlamaLayer(ModelConfig c) : base("layer")
    {
        _c = c;
        RmsAtt = nn.Parameter(ones(c.Dim));
        Wq = nn.Parameter(zeros(c.Dim, c.Dim));
        Wk = nn.Parameter(zeros(c.KvDim, c.Dim));
        Wv = nn.Parameter(zeros(c.KvDim, c.Dim));
        Wo = nn.Parameter(zeros(c.Dim, c.Dim));
        RmsFfn = nn.Parameter(ones(c.Dim));
        W1 = nn.Parameter(zeros(c.HiddenDim, c.Dim));
        W2 = nn.Parameter(zeros(c.Dim, c.HiddenDim));
        W3 = nn.Parameter(zeros(c.HiddenDim, c.Dim));
        RegisterComponents();
    }

    /// <summary>Attention RMSNorm gain <c>[dim]</c>.</summary>
    public Parameter RmsAtt { get; }
    /// <summary>Query projection <c>[dim, dim]</c>, interleaved RoPE order.</summary>
    public Parameter Wq { get; }
    /// <summary>Key projection <c>[kv_dim, dim]</c>.</summary>
    public Parameter Wk { get; }
    /// <summary>Value projection <c>[kv_dim, dim]</c>.</summary>
    public Parameter Wv { get; }
    /// <summary>Output projection <c>[dim, dim]</c>.</summary>
    public Parameter Wo { get; }
    /// <summary>Feed-forward RMSNorm gain <c>[dim]</c>.</summary>
    public Parameter RmsFfn { get; }
    /// <summary>Gate <c>[hidden, dim]</c>.</summary>
    public Parameter W1 { get; }
    /// <summary>Down <c>[dim, hidden]</c>.</summary>
    public Parameter W2 { get; }
    /// <summary>Up <c>[hidden, dim]</c>.</summary>
    public Parameter W3 { get; }

    /// <summary><c>x + f(x)</c> for <c>x [batch, time, dim]</c>.</summary>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => x + Delta(x, cos, sin);

    /// <summary>
    /// What the layer adds to the residual stream, <c>f(x)</c>: routers and layer dropout scale or drop it,
    /// so it is exposed on its own.
    /// </summary>
    public Tensor Delta(Tensor x, Tensor cos, Tensor sin) => Delta(x, cos, sin, null);

    /// <summary>
    /// <see cref="Delta(Tensor, Tensor, Tensor)"/> with a low-rank adapter added to each projection:
    /// <paramref name="adapter"/> maps (projection index as in <c>LoraAdapter.Targets</c>, input) to the
    /// adapter's output, which is added to the frozen projection's.
    /// </summary>
    public Tensor Delta(Tensor x, Tensor cos, Tensor sin, Func<int, Tensor, Tensor>? adapter) => Delta(x, cos, sin, adapter, null);

    /// <summary>
    /// <see cref="Delta(Tensor, Tensor, Tensor, Func{int, Tensor, Tensor}?)"/> with an additive attention mask
    /// <c>[batch, time, time]</c> (0 where a position may attend, -inf elsewhere) in place of the causal one:
    /// packed batches use it to keep the examples of one row apart.
    /// </summary>
    public Tensor Delta(Tensor x, Tensor cos, Tensor sin, Func<int, Tensor, Tensor>? adapter, Tensor? attentionMask)
    {
        // One matmul for q, k and v and one for gate and up (fewer, larger operations, which is what the CPU
        // backend rewards at these sizes); adapters add their outputs to the projections they belong to.
        Tensor Fused(Tensor input, Tensor[] weights, int[] targets)
        {
            var output = nn.functional.linear(input, cat(weights));
            return adapter is null ? output : output + cat(targets.Select(t => adapter(t, input)).ToArray(), -1);
        }
        Tensor Proj(Tensor input, Tensor w, int target) =>
            adapter is null ? nn.functional.linear(input, w) : nn.functional.linear(input, w) + adapter(target, input);

        long batch = x.shape[0], time = x.shape[1];
        int heads = _c.NHeads, kvHeads = _c.NKvHeads, hs = _c.HeadSize;

        var h = RmsNorm(x, RmsAtt, _c.NormEps);
        var qkv = Fused(h, [Wq, Wk, Wv], [0, 1, 2]).view(batch, time, heads + 2 * kvHeads, hs);
        // RoPE once over the query and key heads together.
        var rotated = Rope(qkv.narrow(2, 0, heads + kvHeads), cos, sin);
        var q = rotated.narrow(2, 0, heads).transpose(1, 2);
        var k = rotated.narrow(2, heads, kvHeads).transpose(1, 2);
        var v = qkv.narrow(2, heads + kvHeads, kvHeads).transpose(1, 2);
        var attended = Attention(q, k, v, attentionMask).transpose(1, 2).contiguous().view(batch, time, heads * hs);
        var afterAttention = Proj(attended, Wo, 3);

        var h2 = RmsNorm(x + afterAttention, RmsFfn, _c.NormEps);
        var gateUp = Fused(h2, [W1, W3], [4, 6]);
        var gated = nn.functional.silu(gateUp.narrow(-1, 0, _c.HiddenDim)) * gateUp.narrow(-1, _c.HiddenDim, _c.HiddenDim);
        var ffn = Proj(gated, W2, 5);
        return afterAttention + ffn;
    }

    /// <summary>
    /// Grouped-query attention, <c>q [batch, heads, time, hs]</c> over <c>k, v [batch, kv_heads, time, hs]</c>:
    /// query head j reads key/value head j / (heads / kv_heads). The query heads of a group are stacked along
    /// time so one batched matmul serves the group; on the CPU that is about 1.5x faster, forward and backward,
    /// than repeating k and v for the fused attention kernel.
    /// </summary>
    private Tensor Attention(Tensor q, Tensor k, Tensor v, Tensor? attentionMask)
    {
        long batch = q.shape[0], time = q.shape[2];
        int kvHeads = _c.NKvHeads, group = _c.NHeads / _c.NKvHeads, hs = _c.HeadSize;
        var grouped = q.reshape(batch, kvHeads, group * time, hs);
        using var scale = (1.0 / Math.Sqrt(hs)).ToScalar();
        var scores = matmul(grouped, k.transpose(-1, -2)).mul_(scale).view(batch, kvHeads, group, time, time);
        var mask = attentionMask is null ? CausalMask(time, q.device) : attentionMask.view(batch, 1, 1, time, time);
        var weights = (scores + mask).softmax(-1).view(batch, kvHeads, group * time, time);
        return matmul(weights, v).view(batch, _c.NHeads, time, hs);
    }

    /// <summary>The additive causal mask <c>[time, time]</c>: 0 on and below the diagonal, -inf above.</summary>
    private static Tensor CausalMask(long time, Device device) =>
        triu(full(time, time, float.NegativeInfinity, device: device), 1);

    /// <summary><c>w * x / sqrt(mean(x^2) + eps)</c> over the last dimension.</summary>
    internal static Tensor RmsNorm(Tensor x, Tensor weight, float eps)
    {
        // An explicit Scalar, alive until the operator returns: an implicit one (x + eps) can be finalized while
        // libtorch still reads it, which crashed a 7,000-step training run after 2,450 steps.
        using var e = eps.ToScalar();
        // x * x, not pow(2): libtorch's generic pow is 2.5x slower forward and backward on the CPU.
        return x * (x * x).mean([-1L], keepdim: true).add(e).rsqrt() * weight;
    }

    /// <summary>Rotates adjacent pairs (2i, 2i+1) of every head: <c>x [batch, time, heads, head_size]</c>.</summary>
    private static Tensor Rope(Tensor x, Tensor cos, Tensor sin)
    {
        long batch = x.shape[0], time = x.shape[1], heads = x.shape[2], hs = x.shape[3];
        var pairs = x.view(batch, time, heads, hs / 2, 2);
        var x0 = pairs.select(-1, 0);
        var x1 = pairs.select(-1, 1);
        var c = cos.view(1, time, 1, hs / 2);
        var s = sin.view(1, time, 1, hs / 2);
        return stack([x0 * c - x1 * s, x0 * s + x1 * c], dim: -1).view(batch, time, heads, hs);
    }

    internal void LoadFrom(LayerWeights w)
    {
        TorchLlama.Copy(RmsAtt, w.RmsAtt);
        TorchLlama.Copy(Wq, w.Wq);
        TorchLlama.Copy(Wk, w.Wk);
        TorchLlama.Copy(Wv, w.Wv);
        TorchLlama.Copy(Wo, w.Wo);
        TorchLlama.Copy(RmsFfn, w.RmsFfn);
        TorchLlama.Copy(W1, w.W1);
        TorchLlama.Copy(W2, w.W2);
        TorchLlama.Copy(W3, w.W3);
    }
}
