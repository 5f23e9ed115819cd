using FiRST.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace FiRST.Training.LayerSkip;

/// <summary>
/// LayerSkip's training forward: layer dropout per sample, and the early-exit loss, where the model's own
/// final norm and classifier read the output of every chosen layer and the cross-entropies are averaged with
/// weights proportional to the layer's depth (<c>l + 1</c>, normalised over the chosen layers), so deep
/// exits, and the last layer most, dominate.
/// </summary>
public static class EarlyExitLoss
{
    /// <summary>Weights of the exit losses: <c>(l + 1) / sum (e + 1)</c> over <paramref name="exits"/>.</summary>
    public static float[] Weights(IReadOnlyList<int> exits) => Weights(exits, earlyScale: 1f);

    /// <summary>
    /// Weights of the exit losses with LayerSkip's early-exit scale: <c>(l + 1)</c>, times
    /// <paramref name="earlyScale"/> for every exit but the last of <paramref name="exits"/>, normalised to sum 1.
    /// A small scale keeps the final layer's loss dominant.
    /// </summary>
    public static float[] Weights(IReadOnlyList<int> exits, float earlyScale)
    {
        var raw = exits.Select((l, i) => (l + 1f) * (i == exits.Count - 1 ? 1f : earlyScale)).ToArray();
        float total = raw.Sum();
        return raw.Select(w => w / total).ToArray();
    }

    /// <summary>
    /// The weighted loss for <paramref name="tokens"/> <c>[batch, time]</c> predicting <paramref name="targets"/>
    /// <c>[batch, time]</c>, counted where <paramref name="lossMask"/> <c>[batch, time]</c> is 1.
    /// <paramref name="dropout"/> is null at evaluation. <paramref name="attentionMask"/> (additive,
    /// <c>[batch, time, time]</c>) replaces the causal mask for packed batches.
    /// </summary>
    public static Tensor Compute(TorchLlama model, Tensor tokens, Tensor targets, Tensor lossMask, IReadOnlyList<int> exits,
                                 LayerDropoutSchedule? dropout = null, int step = 0, int steps = 1, Generator? rng = null, float earlyScale = 1f,
                                 Tensor? attentionMask = null)
    {
        int layers = model.Config.NLayers;
        if (exits.Count == 0 || exits[^1] != layers - 1) throw new ArgumentException("the last layer must be among the exits", nameof(exits));
        var weights = Weights(exits, earlyScale);
        long batch = tokens.shape[0], time = tokens.shape[1];
        var x = model.Embed(tokens);
        // The exits read only the positions the loss counts (an answer token or its EOS, about a third of a packed
        // batch): the norm, the classifier and the cross-entropy of the others would be multiplied by zero.
        var counted = lossMask.reshape(-1).nonzero().squeeze(1);
        var countedTargets = targets.reshape(-1).index_select(0, counted);
        var cos = model.Cos(time);
        var sin = model.Sin(time);
        Tensor? loss = null;
        int next = 0;
        for (int l = 0; l < layers; l++)
        {
            var delta = model.Layers[l].Delta(x, cos, sin, null, attentionMask);
            float p = dropout?.Rate(l, layers, step, steps) ?? 0f;
            if (p > 0)
            {
                // Per sample (a row; packed rows drop a layer for all their examples): a dropped layer passes the
                // residual stream through unchanged.
                using var rate = p.ToScalar();
                var keep = rand(new long[] { batch, 1, 1 }, generator: rng).ge(rate).to_type(x.dtype);
                delta = delta * keep;
            }
            x = x + delta;
            if (next < exits.Count && exits[next] == l)
            {
                using var weight = weights[next].ToScalar();
                var term = CountedCrossEntropy(model.Logits(x.reshape(-1, x.shape[^1]).index_select(0, counted)), countedTargets).mul(weight);
                loss = loss is null ? term : loss + term;
                next++;
            }
        }
        return loss!;
    }

    /// <summary>Mean cross-entropy of already selected positions; 0 (with a gradient) when there are none, as
    /// <see cref="MaskedCrossEntropy"/> gives for an all-zero mask.</summary>
    static Tensor CountedCrossEntropy(Tensor logits, Tensor targets) =>
        targets.shape[0] == 0 ? logits.sum() : nn.functional.cross_entropy(logits, targets);

    /// <summary>Mean cross-entropy over the positions where <paramref name="mask"/> is 1.</summary>
    public static Tensor MaskedCrossEntropy(Tensor logits, Tensor targets, Tensor mask)
    {
        long vocab = logits.shape[^1];
        var perToken = nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), reduction: nn.Reduction.None);
        var m = mask.reshape(-1).to_type(perToken.dtype);
        using var one = 1f.ToScalar();
        return (perToken * m).sum() / m.sum().clamp_min(one);
    }
}
