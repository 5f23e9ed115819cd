namespace FiRST.Training.LayerSkip;

/// <summary>
/// Which layers' outputs get the early-exit loss at a training step. The last layer always does; LayerSkip's
/// curricula choose among the others so that each step pays for only a few extra classifier passes.
/// </summary>
public abstract record ExitCurriculum
{
    /// <summary>Layers (0-based, ascending) whose outputs are scored at <paramref name="step"/>; always ends with the last.</summary>
    public abstract IReadOnlyList<int> Exits(int layers, int step, int steps);

    /// <summary>Every layer, every step.</summary>
    public sealed record All : ExitCurriculum
    {
        /// <inheritdoc />
        public override IReadOnlyList<int> Exits(int layers, int step, int steps) => Enumerable.Range(0, layers).ToArray();
    }

    /// <summary>Rotational: at step t, the early layers l with <c>l mod R == t mod R</c>, plus the last.</summary>
    public sealed record Rotational(int Period) : ExitCurriculum
    {
        /// <inheritdoc />
        public override IReadOnlyList<int> Exits(int layers, int step, int steps) =>
            Enumerable.Range(0, layers - 1).Where(l => l % Period == step % Period).Append(layers - 1).ToArray();
    }

    /// <summary>Gradual: exits switch on from the last layer down, reaching the first at the final step.</summary>
    public sealed record Gradual : ExitCurriculum
    {
        /// <inheritdoc />
        public override IReadOnlyList<int> Exits(int layers, int step, int steps)
        {
            int enabled = steps <= 1 ? layers - 1 : (int)((long)(layers - 1) * Math.Clamp(step, 0, steps - 1) / (steps - 1));
            return Enumerable.Range(layers - 1 - enabled, enabled + 1).ToArray();
        }
    }
}
