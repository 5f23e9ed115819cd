using System.Text;
using System.Text.RegularExpressions;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// Byte-level BPE as Hugging Face <c>tokenizers</c> runs it for Llama 3 (and GPT-2): added tokens are matched
/// in the text first; the rest is split by the pre-tokenizer's regular expression; each piece's UTF-8 bytes
/// become the printable characters of GPT-2's byte table; then the adjacent pair with the lowest merge rank
/// (the leftmost among equal ranks) merges until no pair is a merge. Read from <c>tokenizer.json</c> by
/// <see cref="TokenizerJsonFile"/>.
/// </summary>
internal sealed class ByteLevelBpe : ITokenizerModel
{
    private readonly Dictionary<string, int> _vocabulary;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    private readonly Regex? _split;
    private readonly (string Text, int Id)[] _added; // longest first
    private readonly Dictionary<string, int> _addedByText;
    private readonly bool _ignoreMerges;
    private readonly bool _addPrefixSpace;

    private readonly string _path;

    public ByteLevelBpe(string path, Dictionary<string, int> vocabulary, Dictionary<(int, int), (int, int)> merges, (string Text, int Id)[] added,
                        Regex? split, bool ignoreMerges, bool addPrefixSpace, int count, int bosId, int eosId)
    {
        _path = path;
        _vocabulary = vocabulary;
        _bySpan = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _added = [.. added.OrderByDescending(a => a.Text.Length)];
        _addedByText = added.GroupBy(a => a.Text).ToDictionary(g => g.Key, g => g.First().Id, StringComparer.Ordinal);
        _split = split;
        _ignoreMerges = ignoreMerges;
        _addPrefixSpace = addPrefixSpace;
        Count = count;
        BosId = bosId;
        EosId = eosId;
    }

    public int Count { get; }
    public int BosId { get; }
    public int EosId { get; }
    public bool AddsDummyPrefix => false;

    public bool TryGetPiece(string piece, out int id) => _addedByText.TryGetValue(piece, out id) || _vocabulary.TryGetValue(piece, out id);

    /// <summary>GPT-2's table: bytes that print as themselves keep their code point; the others move to 256 and up.</summary>
    public static readonly char[] ByteToChar = BuildByteTable();

    /// <summary>The inverse of <see cref="ByteToChar"/>, indexed by character (all of them below 324); -1 elsewhere.</summary>
    public static readonly short[] CharToByte = BuildInverse();

    private static short[] BuildInverse()
    {
        var inverse = new short[ByteToChar.Max() + 1];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[ByteToChar[b]] = (short)b;
        return inverse;
    }

    private static char[] BuildByteTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    public void Encode(string text, List<int> ids)
    {
        if (_addPrefixSpace && text.Length > 0 && text[0] != ' ') text = " " + text;
        int start = 0;
        for (int at = 0; at < text.Length;)
        {
            var (length, id) = AddedAt(text, at);
            if (length == 0)
            {
                at++;
                continue;
            }
            EncodeOrdinary(text.AsSpan(start, at - start), ids);
            ids.Add(id);
            at += length;
            start = at;
        }
        EncodeOrdinary(text.AsSpan(start), ids);
    }

    private (int Length, int Id) AddedAt(string text, int at)
    {
        foreach (var (added, id) in _added)
            if (text.AsSpan(at).StartsWith(added, StringComparison.Ordinal)) return (added.Length, id);
        return (0, -1);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> ids)
    {
        if (text.IsEmpty) return;
        if (_split is null)
        {
            EncodeWord(text, ids);
            return;
        }
        // "Isolated": matches and the text between them are all pieces.
        int last = 0;
        try
        {
            foreach (var match in _split.EnumerateMatches(text))
            {
                if (match.Index > last) EncodeWord(text[last..match.Index], ids);
                if (match.Length > 0) EncodeWord(text.Slice(match.Index, match.Length), ids);
                last = match.Index + match.Length;
            }
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new ModelLoadException(_path, "pre_tokenizer", $"the split pattern took more than {e.MatchTimeout.TotalSeconds:0} s on a text of {text.Length} characters", e);
        }
        if (last < text.Length) EncodeWord(text[last..], ids);
    }

    private void EncodeWord(ReadOnlySpan<char> piece, List<int> ids)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(piece.ToString());
        var word = new char[utf8.Length];
        for (int i = 0; i < utf8.Length; i++) word[i] = ByteToChar[utf8[i]];
        if (_ignoreMerges && _bySpan.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }

        // Symbols are ids in a linked list; a merge replaces the left one and removes the right.
        int n = word.Length;
        var symbol = new int[n];
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (!_bySpan.TryGetValue(word.AsSpan(i, 1), out symbol[i]))
                throw new FiRSTException($"the byte 0x{utf8[i]:X2} has no token in the tokenizer's vocabulary");
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        var agenda = new PriorityQueue<(int Left, int Right, int LeftId, int RightId), (int Rank, int Left)>();
        void Consider(int left, int right)
        {
            if (left >= 0 && right >= 0 && _merges.TryGetValue((symbol[left], symbol[right]), out var merge))
                agenda.Enqueue((left, right, symbol[left], symbol[right]), (merge.Rank, left));
        }
        for (int i = 0; i + 1 < n; i++) Consider(i, i + 1);
        while (agenda.TryDequeue(out var pair, out _))
        {
            // Stale once either side merged with something else.
            if (symbol[pair.Left] != pair.LeftId || symbol[pair.Right] != pair.RightId || next[pair.Left] != pair.Right) continue;
            symbol[pair.Left] = _merges[(pair.LeftId, pair.RightId)].Merged;
            symbol[pair.Right] = -1;
            next[pair.Left] = next[pair.Right];
            if (next[pair.Right] >= 0) prev[next[pair.Right]] = pair.Left;
            Consider(prev[pair.Left], pair.Left);
            Consider(pair.Left, next[pair.Left]);
        }
        for (int i = 0; i >= 0; i = next[i]) ids.Add(symbol[i]);
    }
}
