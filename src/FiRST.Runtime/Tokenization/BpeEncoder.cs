using System.Text;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// SentencePiece's BPE encoding (<c>bpe_model.cc</c>), which llama2.c's <c>encode</c> reproduces: split the
/// normalized text into characters, then repeatedly merge the adjacent pair whose merged piece has the highest
/// score, the leftmost pair among equal scores, until no pair forms a piece. What is left and not a piece
/// becomes byte pieces (or unknown).
/// </summary>
/// <remarks>
/// The leftmost tie-break is what makes <c>,,,</c> give <c>,,</c> <c>,</c> as SentencePiece and llama2.c do.
/// Unused pieces are merged like normal ones; SentencePiece would re-split them into the pieces that formed
/// them, which no Llama vocabulary needs.
/// </remarks>
internal static class BpeEncoder
{
    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>; an empty text adds nothing.</summary>
    public static void Encode(SentencePieceVocabulary vocabulary, string text, List<int> ids)
    {
        string normalized = Normalize(vocabulary, text);
        if (normalized.Length == 0) return;

        // Symbols are ranges of the normalized text in a linked list; a merge grows the left one and empties the right.
        var start = new List<int>(normalized.Length);
        var length = new List<int>(normalized.Length);
        var whole = new List<bool>(normalized.Length); // user-defined pieces: never merged further
        for (int i = 0; i < normalized.Length;)
        {
            int n = UserDefinedAt(vocabulary, normalized, i);
            bool isWhole = n > 0;
            if (!isWhole) n = char.IsHighSurrogate(normalized[i]) && i + 1 < normalized.Length && char.IsLowSurrogate(normalized[i + 1]) ? 2 : 1;
            start.Add(i);
            length.Add(n);
            whole.Add(isWhole);
            i += n;
        }
        int count = start.Count;
        var len = length.ToArray();
        var prev = new int[count];
        var next = new int[count];
        for (int i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }

        // Highest score first, then leftmost; an entry is stale once either side has changed length.
        var agenda = new PriorityQueue<(int Left, int Right, int Length), (float NegScore, int Left)>();
        void Consider(int left, int right)
        {
            if (left < 0 || right < 0 || whole[left] || whole[right]) return;
            if (vocabulary.TryGetMergeable(normalized.AsSpan(start[left], len[left] + len[right]), out int id))
                agenda.Enqueue((left, right, len[left] + len[right]), (-vocabulary.Scores[id], left));
        }
        for (int i = 0; i + 1 < count; i++) Consider(i, i + 1);
        while (agenda.TryDequeue(out var pair, out _))
        {
            if (len[pair.Left] == 0 || len[pair.Right] == 0 || len[pair.Left] + len[pair.Right] != pair.Length) continue;
            len[pair.Left] = pair.Length;
            len[pair.Right] = 0;
            next[pair.Left] = next[pair.Right];
            if (next[pair.Right] >= 0) prev[next[pair.Right]] = pair.Left;
            Consider(prev[pair.Left], pair.Left);
            Consider(pair.Left, next[pair.Left]);
        }

        for (int i = 0; i >= 0; i = next[i])
        {
            var symbol = normalized.AsSpan(start[i], len[i]);
            if (vocabulary.TryGetMergeable(symbol, out int id)) ids.Add(id);
            else if (vocabulary.ByteFallback)
            {
                foreach (byte b in Encoding.UTF8.GetBytes(symbol.ToString())) ids.Add(vocabulary.ByteId(b));
            }
            else ids.Add(vocabulary.UnkId);
        }
    }

    /// <summary>SentencePiece's identity normalizer: optional whitespace clean-up, the dummy prefix, spaces as '▁'.</summary>
    private static string Normalize(SentencePieceVocabulary vocabulary, string text)
    {
        if (vocabulary.RemoveExtraWhitespaces)
        {
            var b = new StringBuilder(text.Length);
            foreach (char c in text.AsSpan().Trim(' '))
                if (c != ' ' || b.Length == 0 || b[^1] != ' ') b.Append(c);
            text = b.ToString();
        }
        if (text.Length == 0) return "";
        return ((vocabulary.AddDummyPrefix ? " " : "") + text).Replace(' ', '\u2581');
    }

    /// <summary>The length of the longest user-defined piece starting at <paramref name="at"/>, or 0.</summary>
    private static int UserDefinedAt(SentencePieceVocabulary vocabulary, string text, int at)
    {
        foreach (string piece in vocabulary.UserDefined)
            if (text.AsSpan(at).StartsWith(piece, StringComparison.Ordinal)) return piece.Length;
        return 0;
    }
}
