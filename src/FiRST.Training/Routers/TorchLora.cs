using FiRST.Runtime;
using FiRST.Runtime.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FiRST.Training.Routers;

/// <summary>
/// Trainable LoRA adapters on every projection (wq, wk, wv, wo, w1, w2, w3) of every layer: the projection
/// <c>W x</c> becomes <c>W x + scale · B (A x)</c>, with B starting at zero so training starts from the
/// frozen model. Saved as a <see cref="LoraAdapter"/> the runtime merges at load.
/// </summary>
public sealed class TorchLora : nn.Module
{
    private readonly ModelConfig _c;
    private readonly ParameterList _a, _b; // [layer * 7 + target]

    /// <summary>Adapters of rank <paramref name="rank"/> with <c>scale = alpha / rank</c>.</summary>
    public TorchLora(ModelConfig config, int rank, float alpha) : base("lora")
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "rank must be at least 1");
        _c = config;
        Rank = rank;
        Scale = alpha / rank;
        _a = new ParameterList();
        _b = new ParameterList();
        for (int l = 0; l < config.NLayers; l++)
            for (int t = 0; t < LoraAdapter.Targets.Count; t++)
            {
                var (rows, cols) = LoraAdapter.TargetShape(t, config.Dim, config.HiddenDim, config.KvDim);
                // Kaiming-like A, zero B: the adapters add nothing until they learn.
                _a.Add(nn.Parameter(randn(rank, cols) / Math.Sqrt(cols)));
                _b.Add(nn.Parameter(zeros(rows, rank)));
            }
        RegisterComponents();
    }

    /// <summary>Rank of every adapter.</summary>
    public int Rank { get; }

    /// <summary>Factor on <c>B A</c>.</summary>
    public float Scale { get; }

    /// <summary>The adapter function of layer <paramref name="layer"/> for <c>TorchLlamaLayer.Delta</c>.</summary>
    public Func<int, Tensor, Tensor> Layer(int layer) => (target, input) =>
    {
        int i = layer * LoraAdapter.Targets.Count + target;
        return nn.functional.linear(nn.functional.linear(input, _a[i]), _b[i]) * Scale;
    };

    /// <summary>The trained adapters in the runtime's form.</summary>
    public LoraAdapter ToAdapter()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var a = _a.Select(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
        var b = _b.Select(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
        return new LoraAdapter(_c.NLayers, _c.Dim, _c.HiddenDim, _c.KvDim, Rank, Scale, a, b);
    }
}
