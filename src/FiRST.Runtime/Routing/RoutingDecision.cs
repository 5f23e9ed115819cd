namespace FiRST.Runtime.Routing;

/// <summary>
/// What the routers decided during prefill: the mean router output of every layer over the prompt and the
/// mask that follows from the threshold. The mask holds for the prompt and every decoded token.
/// </summary>
/// <param name="Mask">The layers kept.</param>
/// <param name="Probabilities">Mean router output <c>p_l</c> per layer over the prompt tokens.</param>
/// <param name="Threshold">A layer with <c>p_l</c> below this was skipped.</param>
public sealed record RoutingDecision(LayerMask Mask, IReadOnlyList<float> Probabilities, float Threshold)
{
    /// <summary>
    /// Time spent scoring the routers over the prompt: the dispatcher's own work during prefill (the layers it
    /// runs are prefill's). Choosing the path afterwards is a table lookup.
    /// </summary>
    public TimeSpan RoutersTime { get; init; }

    /// <summary>The skipped layers, ascending.</summary>
    public IEnumerable<int> SkippedLayers => Enumerable.Range(0, Mask.LayerCount).Where(l => !Mask.IsKept(l));

    /// <summary>One line: the mask and every <c>p_l</c>.</summary>
    public override string ToString() =>
        $"mask {Mask} (skipped: {(Mask.KeptCount == Mask.LayerCount ? "none" : string.Join(",", SkippedLayers))}); p = [{string.Join(", ", Probabilities.Select(p => p.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}]";
}
