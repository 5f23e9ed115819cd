namespace FiRST.Demo;

/// <summary>The right answer to a prompt of one of the demo's task forms, worked out without the model.</summary>
internal static class ExpectedAnswer
{
    /// <summary>The answer to <paramref name="prompt"/>; <c>null</c> when it is none of the four forms.</summary>
    public static string? For(string prompt)
    {
        if (TryVerb(prompt, "copy", out string text)) return text;
        if (TryVerb(prompt, "reverse", out text)) return new string(text.Reverse().ToArray());
        if (TryVerb(prompt, "sort", out text))
            return string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Order());
        // add4: "A+B="
        string[] terms = prompt.TrimEnd('=').Split('+');
        return prompt.EndsWith('=') && terms.Length == 2 && long.TryParse(terms[0], out long a) && long.TryParse(terms[1], out long b)
            ? (a + b).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }

    // "VERB TEXT =>"
    private static bool TryVerb(string prompt, string verb, out string text)
    {
        bool match = prompt.StartsWith(verb + " ", StringComparison.Ordinal) && prompt.EndsWith(" =>", StringComparison.Ordinal);
        text = match ? prompt[(verb.Length + 1)..^3] : "";
        return match;
    }
}
