namespace FiRST.Gen.Model
{
    /// <summary>A task's self-speculation plan, validated against its kept layers.</summary>
    /// <param name="DraftLayers">E: the draft runs the first E kept layers; at least 1 and fewer than the kept layers.</param>
    /// <param name="Lookahead">k: tokens drafted per round, 1 to <c>ProfileSchema.MaxLookahead</c>.</param>
    internal sealed record SpeculationSpec(int DraftLayers, int Lookahead);
}
