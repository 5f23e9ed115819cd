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
        var (logits, p, _) = Forward(model, routers, tokens, promptMask, lora, detachRouterInput: false,
            (_, pl) => hard ? (pl >= threshold).to_type(pl.dtype) + pl - pl.detach() : pl);
        return (logits, p);
    }

    /// <summary>
    /// The hard-gated forward pass as inference runs it (<c>p_l ≥ threshold</c> keeps layer l), except that layer
    /// <paramref name="flip"/> (when not -1) takes the opposite decision for every sample; later routers see the
    /// changed hidden states and decide again. Returns the logits, the pooled router outputs <c>[batch, layers]</c>
    /// (differentiable in the routers' weights) and the 0/1 gates used <c>[batch, layers]</c>.
    /// </summary>
    public static (Tensor Logits, Tensor P, Tensor Gates) RunHard(TorchLlama model, TorchRouters routers, Tensor tokens, Tensor promptMask, float threshold, int flip = -1) =>
        Forward(model, routers, tokens, promptMask, lora: null, detachRouterInput: true, (l, p) =>
        {
            var gate = (p.detach() >= threshold).to_type(p.dtype);
            return l == flip ? 1 - gate : gate;
        });

    /// <summary>
    /// The pooled router outputs <c>[batch, layers]</c> (differentiable in the routers' weights) when each layer runs
    /// as <paramref name="gates"/> <c>[batch, layers]</c> (0/1) says, whatever the routers decide: what each router
    /// sees when the routers before it decided as the gates do.
    /// </summary>
    public static Tensor RunForced(TorchLlama model, TorchRouters routers, Tensor tokens, Tensor promptMask, Tensor gates) =>
        Forward(model, routers, tokens, promptMask, lora: null, detachRouterInput: true, (l, _) => gates[.., l]).P;

    /// <summary>
    /// The gated forward pass: before layer l the router's outputs are pooled over each sample's prompt positions
    /// into <c>p_l</c>, and <paramref name="gateOf"/> (layer, <c>p_l</c>) gives the factor on the layer's contribution.
    /// </summary>
    private static (Tensor Logits, Tensor P, Tensor Gates) Forward(TorchLlama model, TorchRouters routers, Tensor tokens, Tensor promptMask,
                                                                   TorchLora? lora, bool detachRouterInput, Func<int, Tensor, Tensor> gateOf)
    {
        long time = tokens.shape[1];
        var x = model.Embed(tokens);
        var cos = model.Cos(time);
        var sin = model.Sin(time);
        var count = promptMask.sum(1).clamp_min(1);
        var pooled = new List<Tensor>();
        var gates = new List<Tensor>();
        for (int l = 0; l < routers.Layers; l++)
        {
            var p = (routers.Score(l, detachRouterInput ? x.detach() : x) * promptMask).sum(1) / count; // [batch]
            var gate = gateOf(l, p);
            pooled.Add(p);
            gates.Add(gate);
            x = x + gate.view(-1, 1, 1) * model.Layers[l].Delta(x, cos, sin, lora?.Layer(l));
        }
        return (model.Logits(x), stack(pooled, 1), stack(gates, 1));
    }
}
