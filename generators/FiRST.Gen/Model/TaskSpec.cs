namespace FiRST.Gen.Model
{
    /// <summary>One task of a profile: its name, the layers its decode path runs, and what calibration planned for it.</summary>
    /// <param name="Name">The name as written in the profile.</param>
    /// <param name="PascalName">The name in PascalCase, used for the enum member and the path class.</param>
    /// <param name="KeptLayers">The kept layers, ascending, without repeats, at least one.</param>
    /// <param name="EarlyExit">The early-exit thresholds (<c>first.profile/2</c>), or <c>null</c>.</param>
    /// <param name="Speculation">The self-speculation plan (<c>first.profile/2</c>), or <c>null</c>.</param>
    internal sealed record TaskSpec(
        string Name,
        string PascalName,
        EquatableArray<int> KeptLayers,
        EarlyExitSpec? EarlyExit = null,
        SpeculationSpec? Speculation = null);
}
