namespace FiRST.Gen.Model
{
    /// <summary>One task of a profile: its name and the layers its decode path runs.</summary>
    /// <param name="Name">The name as written in the profile.</param>
    /// <param name="PascalName">The name in PascalCase, used for the enum member and the path class.</param>
    /// <param name="KeptLayers">The kept layers, ascending, without repeats, at least one.</param>
    internal sealed record TaskSpec(string Name, string PascalName, EquatableArray<int> KeptLayers);
}
