namespace FiRST.Training.LayerSkip;

/// <summary>How the maximum layer-dropout rate evolves over training (LayerSkip's time curriculum).</summary>
public enum DropoutCurriculum
{
    /// <summary>The full rate from the first step.</summary>
    Constant,
    /// <summary>Rises exponentially from 0 at the first step to the full rate at the last: <c>exp(t ln2 / (T-1)) - 1</c>.</summary>
    Exponential,
}

/// <summary>
/// LayerSkip's layer dropout: layer <c>l</c> of <c>L</c> is skipped, per sample, with probability
/// <c>p(l) = p_max * (exp(l ln2 / (L-1)) - 1)</c>: never the first layer, <c>p_max</c> for the last, rising
/// exponentially between. Training only; evaluation runs every layer.
/// </summary>
public sealed record LayerDropoutSchedule(float MaxRate, DropoutCurriculum Curriculum = DropoutCurriculum.Constant)
{
    /// <summary>Dropout probability of layer <paramref name="layer"/> of <paramref name="layers"/> at <paramref name="step"/> of <paramref name="steps"/>.</summary>
    public float Rate(int layer, int layers, int step = 0, int steps = 1)
    {
        if (layers < 1 || (uint)layer >= (uint)layers) throw new ArgumentOutOfRangeException(nameof(layer));
        if (layers == 1) return 0f;
        double depth = Math.Exp(layer * Math.Log(2) / (layers - 1)) - 1;
        double time = Curriculum == DropoutCurriculum.Constant || steps <= 1
            ? 1
            : Math.Exp(Math.Clamp(step, 0, steps - 1) * Math.Log(2) / (steps - 1)) - 1;
        return (float)(MaxRate * depth * time);
    }
}
