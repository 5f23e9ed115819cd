using System.Text;

namespace FiRST.Runtime.Generation;

/// <summary>One generated token as it streams out.</summary>
public readonly struct GeneratedToken
{
    internal GeneratedToken(int id, int position, ReadOnlyMemory<byte> utf8)
    {
        Id = id;
        Position = position;
        Utf8 = utf8;
    }

    /// <summary>Token id.</summary>
    public int Id { get; }

    /// <summary>Position the token occupies in the sequence.</summary>
    public int Position { get; }

    /// <summary>
    /// The token's bytes as they continue the text: the leading space of the first piece after BOS is
    /// removed, byte tokens are raw bytes (possibly part of a multi-byte character).
    /// </summary>
    public ReadOnlyMemory<byte> Utf8 { get; }

    /// <summary>
    /// The bytes as a string. A token that holds only part of a multi-byte character decodes to U+FFFD: to
    /// stream text, use <see cref="GenerationRun.Text"/> which joins such pieces first.
    /// </summary>
    public string Text => Encoding.UTF8.GetString(Utf8.Span);

    /// <inheritdoc />
    public override string ToString() => $"{Id} '{Text}'";
}
