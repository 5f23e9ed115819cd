using System.Text;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// A SentencePiece BPE vocabulary: each id's piece (with '▁' for spaces), score and type, and the normalizer
/// settings that prepare text for it. Built from a <c>tokenizer.model</c> or a llama2.c <c>.bin</c>; encoded
/// by <see cref="BpeEncoder"/>.
/// </summary>
internal sealed class SentencePieceVocabulary : ITokenizerModel
{
    private readonly Dictionary<string, int> _mergeable;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeableBySpan;
    private readonly Dictionary<string, int> _all;
    private readonly int[] _byteIds;

    public SentencePieceVocabulary(string path, string[] pieces, float[] scores, PieceType[] types, int unkId, int bosId, int eosId,
                                   bool byteFallback, bool addDummyPrefix, bool removeExtraWhitespaces)
    {
        Pieces = pieces;
        Scores = scores;
        Types = types;
        UnkId = unkId;
        BosId = bosId;
        EosId = eosId;
        AddDummyPrefix = addDummyPrefix;
        RemoveExtraWhitespaces = removeExtraWhitespaces;
        foreach (var (name, id) in new[] { ("unk_id", unkId), ("bos_id", bosId), ("eos_id", eosId) })
            if ((uint)id >= (uint)pieces.Length) throw new ModelLoadException(path, name, $"{id} is outside the vocabulary of {pieces.Length}");

        // As SentencePiece's model_interface: normal, user-defined and unused pieces are what text can become;
        // control, unknown and byte pieces are reserved, so typing "<s>" or "<0x41>" never produces them.
        _mergeable = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        _all = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        _byteIds = new int[256];
        Array.Fill(_byteIds, -1);
        var userDefined = new List<string>();
        for (int i = 0; i < pieces.Length; i++)
        {
            string piece = pieces[i];
            if (piece.Length == 0) throw new ModelLoadException(path, $"token {i}", "empty piece");
            if (!_all.TryAdd(piece, i)) throw new ModelLoadException(path, $"token {i}", $"piece '{piece.Replace('\u2581', ' ')}' appears twice");
            switch (types[i])
            {
                case PieceType.Normal or PieceType.Unused:
                    _mergeable.Add(piece, i);
                    break;
                case PieceType.UserDefined:
                    _mergeable.Add(piece, i);
                    userDefined.Add(piece);
                    break;
                case PieceType.Byte:
                    int b = Llama2cTokenizerFile.ByteValue(Encoding.UTF8.GetBytes(piece));
                    if (b < 0) throw new ModelLoadException(path, $"token {i}", $"byte piece '{piece}' is not of the form <0xNN>");
                    if (_byteIds[b] < 0) _byteIds[b] = i;
                    break;
            }
        }
        _mergeableBySpan = _mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        ByteFallback = byteFallback && Array.IndexOf(_byteIds, -1) < 0;
        // Longest first, so the first match at a position is the longest, as SentencePiece's prefix matcher finds.
        userDefined.Sort((a, b) => b.Length.CompareTo(a.Length));
        UserDefined = [.. userDefined];
    }

    public string[] Pieces { get; }
    public float[] Scores { get; }
    public PieceType[] Types { get; }
    public int UnkId { get; }
    public int BosId { get; }
    public int EosId { get; }

    /// <summary>A piece text has no match for becomes its UTF-8 bytes' <c>&lt;0xNN&gt;</c> pieces (all 256 are present).</summary>
    public bool ByteFallback { get; }

    /// <summary>SentencePiece's dummy prefix: a space before non-empty text, so the first word looks like any other.</summary>
    public bool AddDummyPrefix { get; }

    /// <summary>Leading and trailing spaces removed and runs of spaces made one, before encoding.</summary>
    public bool RemoveExtraWhitespaces { get; }

    /// <summary>User-defined pieces, longest first: text matching one becomes that piece whole.</summary>
    public string[] UserDefined { get; }

    public int Count => Pieces.Length;

    bool ITokenizerModel.AddsDummyPrefix => AddDummyPrefix;

    public void Encode(string text, List<int> ids) => BpeEncoder.Encode(this, text, ids);

    /// <summary>The id of <paramref name="piece"/> if text can become it (a normal, user-defined or unused piece).</summary>
    public bool TryGetMergeable(ReadOnlySpan<char> piece, out int id) => _mergeableBySpan.TryGetValue(piece, out id);

    /// <summary>The id of a piece of any type (special tokens such as <c>&lt;|im_start|&gt;</c> included).</summary>
    public bool TryGetPiece(string piece, out int id) => _all.TryGetValue(piece, out id);

    /// <summary>The <c>&lt;0xNN&gt;</c> piece for byte <paramref name="b"/>, or -1.</summary>
    public int ByteId(byte b) => _byteIds[b];
}
