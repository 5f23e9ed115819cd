using System.Buffers.Binary;
using System.Text;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// Reads llama2.c tokenizer files (<c>int32 max_token_length</c>, then per token <c>float32 score, int32
/// length, bytes</c>) and turns them into the SentencePiece BPE model they were exported from, so the same
/// Microsoft.ML.Tokenizers code encodes both formats.
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
    /// Writes the SentencePiece model proto for these entries. llama2.c's export replaced '▁' with ' ' and
    /// dropped the piece types, so both are restored here: id 0 is unknown, 1 and 2 control, <c>&lt;0xNN&gt;</c>
    /// pieces are bytes, everything else a normal piece.
    /// </summary>
    public static byte[] ToSentencePieceModel(string path, Entry[] entries)
    {
        const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;
        var model = new ProtoWriter();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < entries.Length; i++)
        {
            string text = Encoding.UTF8.GetString(entries[i].Bytes);
            (string piece, int type) = i switch
            {
                0 => ("<unk>", Unknown),
                1 => ("<s>", Control),
                2 => ("</s>", Control),
                _ when ByteValue(entries[i].Bytes) >= 0 => (text, Byte),
                _ => (text.Replace(' ', '\u2581'), Normal),
            };
            if (piece.Length == 0) throw new ModelLoadException(path, $"token {i}", "empty piece");
            if (!seen.Add(piece)) throw new ModelLoadException(path, $"token {i}", $"piece '{text}' appears twice");
            var p = new ProtoWriter();
            p.String(1, piece);
            p.Float(2, entries[i].Score);
            if (type != Normal) p.Varint(3, (ulong)type);
            model.Message(1, p);
        }

        var trainer = new ProtoWriter();
        trainer.Varint(3, 2); // model_type = BPE (the proto default is unigram)
        trainer.Varint(4, (ulong)entries.Length);
        trainer.Varint(35, 1); // byte_fallback
        trainer.Varint(40, 0); // unk_id
        trainer.Varint(41, 1); // bos_id
        trainer.Varint(42, 2); // eos_id
        trainer.Varint(43, unchecked((ulong)-1L)); // pad_id: none
        trainer.String(45, "<unk>");
        trainer.String(46, "<s>");
        trainer.String(47, "</s>");
        model.Message(2, trainer);

        var normalizer = new ProtoWriter();
        normalizer.String(1, "identity");
        normalizer.Varint(3, 1); // add_dummy_prefix: llama2.c prepends " " to non-empty text
        normalizer.Varint(4, 0); // remove_extra_whitespaces: off (the proto default is on)
        normalizer.Varint(5, 1); // escape_whitespaces
        model.Message(3, normalizer);
        return model.ToArray();
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
