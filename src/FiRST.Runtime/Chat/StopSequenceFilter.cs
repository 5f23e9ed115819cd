namespace FiRST.Runtime.Chat;

/// <summary>
/// Passes streamed text through until a stop sequence appears, and cuts the text before it. A token may
/// end with the start of a stop sequence that the next token completes, so text that could still begin one
/// is held back until it is certain either way.
/// </summary>
internal sealed class StopSequenceFilter(IReadOnlyList<string> stopSequences)
{
    private string _held = "";

    /// <summary>A stop sequence was found; nothing more passes.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds a piece of generated text; returns the text that can be emitted now (possibly empty).</summary>
    public string Push(string piece)
    {
        if (Stopped) return "";
        if (stopSequences.Count == 0) return piece;
        string text = _held + piece;

        int cut = -1;
        foreach (string stop in stopSequences)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _held = "";
            return text[..cut];
        }

        // Invariant: no stop sequence can start in text already emitted, because the longest tail that begins
        // one is always held.
        int hold = LongestTailStartingAStop(text);
        _held = text[^hold..];
        return text[..^hold];
    }

    /// <summary>The text still held back, once generation has ended without a stop sequence.</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _held;
        _held = "";
        return rest;
    }

    private int LongestTailStartingAStop(string text)
    {
        int longest = 0;
        foreach (string stop in stopSequences)
            for (int length = Math.Min(text.Length, stop.Length - 1); length > longest; length--)
                if (stop.AsSpan().StartsWith(text.AsSpan(text.Length - length), StringComparison.Ordinal))
                {
                    longest = length;
                    break;
                }
        return longest;
    }
}
