namespace FiRST.Gen.Model
{
    /// <summary>A target with the additional file its attribute names, if one matched.</summary>
    /// <param name="Target">The attributed class.</param>
    /// <param name="File">The matched file; <c>null</c> when no additional file's path ends with the attribute's path.</param>
    internal sealed record MatchedModel(LocatedTarget Target, ModelFile? File);
}
