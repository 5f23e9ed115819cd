using FiRST.Runtime.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FiRST.Training.Routers;

/// <summary>
/// The routers as a trainable TorchSharp module: <c>r_l = sigmoid(w_l · rmsnorm(h) + b_l)</c> per position,
/// the same function <see cref="RouterSet.Score"/> computes at inference.
/// </summary>
public sealed class TorchRouters : nn.Module
{
    private readonly Parameter _weights; // [layers, dim]
    private readonly Parameter _bias;    // [layers]
    private readonly float _eps;

    /// <summary>Routers for <paramref name="layers"/> layers of width <paramref name="dim"/>, starting with every layer on (p = sigmoid(<paramref name="initialBias"/>)).</summary>
    public TorchRouters(int layers, int dim, float eps, float initialBias) : base("routers")
    {
        _weights = nn.Parameter(zeros(layers, dim));
        _bias = nn.Parameter(full(layers, initialBias));
        _eps = eps;
        RegisterComponents();
    }

    /// <summary>Number of layers.</summary>
    public int Layers => (int)_weights.shape[0];

    /// <summary>Router outputs of layer <paramref name="layer"/> for hidden states <c>[batch, time, dim]</c>: <c>[batch, time]</c>.</summary>
    public Tensor Score(int layer, Tensor hidden)
    {
        var normed = hidden * (hidden.pow(2).mean([-1L], keepdim: true) + _eps).rsqrt();
        return sigmoid(matmul(normed, _weights[layer]) + _bias[layer]);
    }

    /// <summary>Sets the weights to <paramref name="routers"/>' (to compare with the runtime, or to continue training).</summary>
    public void CopyFrom(RouterSet routers)
    {
        ArgumentNullException.ThrowIfNull(routers);
        if (routers.Layers != Layers || routers.Dim != _weights.shape[1]) throw new ArgumentException("the routers have another shape");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = Enumerable.Range(0, Layers).SelectMany(l => routers.Weights(l).ToArray()).ToArray();
        _weights.copy_(tensor(w).reshape(_weights.shape));
        _bias.copy_(tensor(Enumerable.Range(0, Layers).Select(routers.Bias).ToArray()));
    }

    /// <summary>The trained routers in the runtime's form.</summary>
    public RouterSet ToRouterSet()
    {
        using var _ = no_grad();
        var w = _weights.detach().contiguous().data<float>().ToArray();
        var b = _bias.detach().contiguous().data<float>().ToArray();
        return new RouterSet(Layers, (int)_weights.shape[1], w, b);
    }
}
