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

    /// <summary>Digits, then lower-case letters: the order runs such as <c>0123456789abcdef</c> follow.</summary>
    public const string RunOrder = "0123456789abcdefghijklmnopqrstuvwxyz";

    /// <summary>
    /// Draws a text of runs, uniformly over the lengths: each run 2 to 8 characters going up or down
    /// <see cref="RunOrder"/> (<c>3456</c>, <c>fedc</c>) or one character repeated (<c>aaa</c>), a space
    /// (when allowed) between runs one time in four. A uniform draw almost never shows such texts, and in them
    /// the character after the one just written is a poor guess of the next: a model that learned to copy from
    /// uniform texts alone wrote <c>0223456789abcdef</c> for <c>0123456789abcdef</c>.
    /// </summary>
    public string DrawRuns(Random rng)
    {
        int length = rng.Next(MinLength, MaxLength + 1);
        var text = new System.Text.StringBuilder(length + 8);
        while (text.Length < length)
        {
            if (text.Length > 0 && Spaces && text[^1] != ' ' && rng.Next(4) == 0) { text.Append(' '); continue; }
            int run = rng.Next(2, 9), start = rng.Next(RunOrder.Length), kind = rng.Next(3);
            for (int i = 0; i < run; i++)
            {
                int at = kind switch { 0 => start + i, 1 => start - i, _ => start };
                if (at < 0 || at >= RunOrder.Length) break;
                text.Append(RunOrder[at]);
            }
        }
        text.Length = length;
        // A space may have landed last.
        if (text[^1] == ' ') text[^1] = RunOrder[rng.Next(RunOrder.Length)];
        return text.ToString();
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
