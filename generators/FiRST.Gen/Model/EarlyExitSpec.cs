namespace FiRST.Gen.Model
{
    /// <summary>A task's early-exit thresholds: one per layer of the model, at least one set, each in (0, 1].</summary>
    /// <param name="Thresholds">One entry per layer, in layer order.</param>
    internal sealed record EarlyExitSpec(EquatableArray<ExitThreshold> Thresholds);

    /// <summary>
    /// The threshold after one layer, or none. A struct of its own because <see cref="EquatableArray{T}"/>
    /// needs an <see cref="System.IEquatable{T}"/> element, which <c>float?</c> is not.
    /// </summary>
    /// <param name="Value">The top probability needed to exit after the layer; <c>null</c>: the token may not exit there.</param>
    internal readonly record struct ExitThreshold(float? Value);
}
