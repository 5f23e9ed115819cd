using FiRST.Training.Model;
using static TorchSharp.torch;

namespace FiRST.Training.Routers;

/// <summary>
/// FiRST's training forward pass over a frozen model: before layer l the router's outputs are pooled over
/// each sample's prompt positions into p_l, and the layer's contribution is scaled by it for every position
/// of that sample, <c>h_{l+1} = h_l + g_l · f_l(h_l)</c>. With hard gating, <c>g_l</c> is 1 or 0 as at
/// inference (<c>p_l ≥ threshold</c>) and the gradient passes straight through to <c>p_l</c>.
/// </summary>
public static class GatedForward
{
    /// <summary>
    /// Logits <c>[batch, time, vocab]</c> and pooled router outputs <c>[batch, layers]</c> for
    /// <paramref name="tokens"/> <c>[batch, time]</c>; <paramref name="promptMask"/> <c>[batch, time]</c> is 1 on
    /// prompt positions.
    /// </summary>
    public static (Tensor Logits, Tensor P) Run(TorchLlama model, TorchRouters routers, Tensor tokens, Tensor promptMask, bool hard, float threshold, TorchLora? lora = null)
    {
        long time = tokens.shape[1];
        var x = model.Embed(tokens);
        var cos = model.Cos(time);
        var sin = model.Sin(time);
        var count = promptMask.sum(1).clamp_min(1);
        var pooled = new List<Tensor>();
        for (int l = 0; l < routers.Layers; l++)
        {
            var p = (routers.Score(l, x) * promptMask).sum(1) / count; // [batch]
            pooled.Add(p);
            var gate = hard ? (p >= threshold).to_type(p.dtype) + p - p.detach() : p;
            x = x + gate.view(-1, 1, 1) * model.Layers[l].Delta(x, cos, sin, lora?.Layer(l));
        }
        return (model.Logits(x), stack(pooled, 1));
    }
}
