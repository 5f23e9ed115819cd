namespace FiRST.Evaluation.Tasks;

/// <summary>
/// The text copy and reverse take: <see cref="MinLength"/> to <see cref="MaxLength"/> characters from lower-case
/// letters and digits, and with <see cref="Spaces"/> single spaces between words.
/// </summary>
/// <param name="MinLength">Fewest characters.</param>
/// <param name="MaxLength">Most characters.</param>
/// <param name="Spaces">Whether a space may stand between two other characters.</param>
public sealed record TaskText(int MinLength, int MaxLength, bool Spaces)
{
    /// <summary>What the embedded model was trained on, and what a user types: 1 to 16 characters with spaces.</summary>
    public static TaskText Demo { get; } = new(1, 16, Spaces: true);

    /// <summary>Lower-case letters, digits, then the space.</summary>
    public const string Symbols = "abcdefghijklmnopqrstuvwxyz0123456789 ";

    /// <summary>The limits in words, as <see cref="TaskGenerator.Limits"/> states them.</summary>
    public string Rule => $"{MinLength} to {MaxLength} characters from lower-case letters{(Spaces ? ", digits and single spaces between words" : " and digits")}";

    /// <summary>
    /// Draws a text uniformly over the lengths, each character uniformly over the symbols allowed there: a
    /// space, when allowed, never starts, ends or follows a space.
    /// </summary>
    public string Draw(Random rng)
    {
        int length = rng.Next(MinLength, MaxLength + 1);
        var chars = new char[length];
        for (int i = 0; i < length; i++)
        {
            bool spaceAllowed = Spaces && i > 0 && i < length - 1 && chars[i - 1] != ' ';
            chars[i] = Symbols[rng.Next(spaceAllowed ? Symbols.Length : Symbols.Length - 1)];
        }
        return new string(chars);
    }

    /// <summary>Why <paramref name="text"/> is outside these limits, or null.</summary>
    public string? Problem(string text)
    {
        if (text.Length < MinLength) return $"TEXT has {text.Length} character{(text.Length == 1 ? "" : "s")}, at least {MinLength}";
        if (text.Length > MaxLength) return $"TEXT has {text.Length} characters, at most {MaxLength}";
        foreach (char c in text)
            if (!Symbols.Contains(c) || (c == ' ' && !Spaces))
                return $"TEXT has '{c}', which is not a lower-case letter{(Spaces ? ", digit or space" : " or digit")}";
        if (text[0] == ' ' || text[^1] == ' ') return "TEXT starts or ends with a space";
        if (text.Contains("  ", StringComparison.Ordinal)) return "TEXT has two spaces in a row";
        return null;
    }
}
