using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace FiRST.Gen.Model
{
    /// <summary>
    /// Where a diagnostic points, kept as plain values: a <see cref="Location"/> holds its syntax tree, and a
    /// pipeline step that caches one keeps the whole compilation alive and never compares equal across edits.
    /// </summary>
    /// <param name="FilePath">Path of the source file.</param>
    /// <param name="TextSpan">Character span in the file.</param>
    /// <param name="LineSpan">Line and column span in the file.</param>
    internal sealed record LocationInfo(string FilePath, TextSpan TextSpan, LinePositionSpan LineSpan)
    {
        /// <summary>Rebuilds a location for reporting a diagnostic.</summary>
        public Location ToLocation() => Location.Create(FilePath, TextSpan, LineSpan);

        /// <summary>Captures where <paramref name="node"/> is.</summary>
        public static LocationInfo? From(SyntaxNode? node) => node is null ? null : From(node.GetLocation());

        /// <summary>Captures a source location; other locations (metadata, none) give <c>null</c>.</summary>
        public static LocationInfo? From(Location location)
        {
            if (location.SourceTree is null) return null;
            return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }
    }
}
