using System.Buffers.Binary;
using System.Text;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// Reads llama2.c tokenizer files (<c>int32 max_token_length</c>, then per token <c>float32 score, int32
/// length, bytes</c>) and turns them into the SentencePiece BPE vocabulary they were exported from, so the same
/// encoder serves both formats.
/// </summary>
internal static class Llama2cTokenizerFile
{
    /// <summary>Longest piece accepted, in bytes; real vocabularies stay under a hundred.</summary>
    private const int MaxPieceBytes = 1024;

    /// <summary>Most tokens accepted; keeps a hostile file from making us build a giant vocabulary.</summary>
    private const int MaxTokens = 1 << 21;

    public readonly record struct Entry(byte[] Bytes, float Score);

    /// <summary>Parses every entry, checking each length against the file before reading it.</summary>
    public static Entry[] Read(string path, byte[] data)
    {
        if (data.Length < 4) throw new ModelLoadException(path, "max_token_length", $"file is truncated: {data.Length} bytes");
        int maxLen = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxLen <= 0 || maxLen > MaxPieceBytes)
            throw new ModelLoadException(path, "max_token_length", $"expected 1 to {MaxPieceBytes}, got {maxLen} (is this a llama2.c tokenizer file?)");

        var entries = new List<Entry>();
        int offset = 4;
        while (offset < data.Length)
        {
            int id = entries.Count;
            if (id >= MaxTokens) throw new ModelLoadException(path, $"token {id}", $"more than {MaxTokens} tokens");
            if (data.Length - offset < 8) throw new ModelLoadException(path, $"token {id}", $"file is truncated inside the entry at byte {offset}");
            float score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(offset));
            int len = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
            offset += 8;
            if (!float.IsFinite(score)) throw new ModelLoadException(path, $"token {id}", $"score is {score}; expected a finite number");
            if (len < 0 || len > maxLen) throw new ModelLoadException(path, $"token {id}", $"length {len} is outside 0..max_token_length ({maxLen})");
            if (data.Length - offset < len) throw new ModelLoadException(path, $"token {id}", $"file is truncated: the piece needs {len} bytes, {data.Length - offset} remain");
            entries.Add(new Entry(data.AsSpan(offset, len).ToArray(), score));
            offset += len;
        }
        if (entries.Count < 3) throw new ModelLoadException(path, "", $"only {entries.Count} tokens; expected at least <unk>, <s> and </s>");
        return entries.ToArray();
    }

    /// <summary>
    /// The SentencePiece BPE vocabulary these entries were exported from. llama2.c's export replaced '▁' with
    /// ' ' and dropped the piece types, so both are restored here: id 0 is unknown, 1 and 2 control (BOS, EOS),
    /// <c>&lt;0xNN&gt;</c> pieces are bytes, everything else a normal piece; the normalizer is Llama 2's (a
    /// dummy-prefix space, whitespace kept as typed).
    /// </summary>
    public static SentencePieceVocabulary ToVocabulary(string path, Entry[] entries)
    {
        var pieces = new string[entries.Length];
        var scores = new float[entries.Length];
        var types = new PieceType[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            string text = Encoding.UTF8.GetString(entries[i].Bytes);
            (pieces[i], types[i]) = i switch
            {
                0 => ("<unk>", PieceType.Unknown),
                1 => ("<s>", PieceType.Control),
                2 => ("</s>", PieceType.Control),
                _ when ByteValue(entries[i].Bytes) >= 0 => (text, PieceType.Byte),
                _ => (text.Replace(' ', '\u2581'), PieceType.Normal),
            };
            scores[i] = entries[i].Score;
        }
        return new SentencePieceVocabulary(path, pieces, scores, types, unkId: 0, bosId: 1, eosId: 2,
                                           byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false);
    }

    /// <summary>The byte a <c>&lt;0xNN&gt;</c> piece stands for, or -1.</summary>
    public static int ByteValue(ReadOnlySpan<byte> piece)
    {
        if (piece.Length != 6 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x' || piece[5] != '>') return -1;
        int hi = Hex(piece[3]), lo = Hex(piece[4]);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private static int Hex(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };
}
