namespace FiRST.Gen.Model
{
    /// <summary>An additional file's path and text, read once; <c>AdditionalText</c> itself is not cached.</summary>
    /// <param name="Path">The file's path as the build passed it.</param>
    /// <param name="Text">The file's text; <c>null</c> when it could not be read.</param>
    /// <param name="ReadError">Why the host could not read it, when it threw; otherwise <c>null</c>.</param>
    internal sealed record ModelFile(string Path, string? Text, string? ReadError = null);
}
