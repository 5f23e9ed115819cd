using System.Buffers.Binary;
using System.Text;

namespace FiRST.Runtime.Tests.Support;

/// <summary>
/// The few protobuf encodings needed to write a SentencePiece <c>ModelProto</c>: varints, fixed32 floats and
/// length-delimited strings or messages. Tests write tokenizer models with it (the runtime only reads them).
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public void Varint(int field, ulong value)
    {
        Tag(field, 0);
        RawVarint(value);
    }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _stream.Write(b);
    }

    public void Bytes(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, 2);
        RawVarint((ulong)bytes.Length);
        _stream.Write(bytes);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Message(int field, ProtoWriter message) => Bytes(field, message._stream.GetBuffer().AsSpan(0, (int)message._stream.Length));

    public byte[] ToArray() => _stream.ToArray();

    private void Tag(int field, int wireType) => RawVarint((ulong)((field << 3) | wireType));

    private void RawVarint(ulong v)
    {
        while (v >= 0x80)
        {
            _stream.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }
        _stream.WriteByte((byte)v);
    }
}

/// <summary>Writes SentencePiece <c>tokenizer.model</c> files for tests.</summary>
internal static class SentencePieceModelWriter
{
    /// <summary>
    /// Writes the SentencePiece model proto for these entries. llama2.c's export replaced '▁' with ' ' and
    /// dropped the piece types, so both are restored here: id 0 is unknown, 1 and 2 control, <c>&lt;0xNN&gt;</c>
    /// pieces are bytes, everything else a normal piece.
    /// </summary>
    public static byte[] FromLlama2c(string path, FiRST.Runtime.Tokenization.Llama2cTokenizerFile.Entry[] entries)
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
                _ when FiRST.Runtime.Tokenization.Llama2cTokenizerFile.ByteValue(entries[i].Bytes) >= 0 => (text, Byte),
                _ => (text.Replace(' ', '\u2581'), Normal),
            };
            if (piece.Length == 0) throw new FiRST.Runtime.ModelLoadException(path, $"token {i}", "empty piece");
            if (!seen.Add(piece)) throw new FiRST.Runtime.ModelLoadException(path, $"token {i}", $"piece '{text}' appears twice");
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
}
