using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace FiRST.Gen.Testing;

/// <summary>
/// A profile as an <c>AdditionalFiles</c> item, read once from disk the way the compiler reads one (encoding
/// detected from the bytes), so the generator sees the text a build would give it.
/// </summary>
internal sealed class ProfileText : AdditionalText
{
    private readonly SourceText _text;

    /// <summary>Reads <paramref name="path"/> (a full path) now, so a missing file fails at the caller.</summary>
    public ProfileText(string path)
    {
        Path = path;
        using var stream = File.OpenRead(path);
        _text = SourceText.From(stream);
    }

    /// <inheritdoc />
    public override string Path { get; }

    /// <inheritdoc />
    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}
