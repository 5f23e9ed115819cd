using System.Buffers.Binary;
using System.Text;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// Reads a SentencePiece <c>tokenizer.model</c> (a <c>ModelProto</c> protobuf) into a
/// <see cref="SentencePieceVocabulary"/>: its pieces, the trainer's special ids and byte fallback, and the
/// normalizer. Only what BPE encoding needs is read; every length is checked against the file first.
/// </summary>
internal static class SentencePieceModelFile
{
    private const int MaxPieces = 1 << 21;

    public static SentencePieceVocabulary Read(string path, byte[] data)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<PieceType>();
        int modelType = 1; // the proto default: unigram
        int unkId = 0, bosId = 1, eosId = 2;
        bool byteFallback = false, addDummyPrefix = true, removeExtraWhitespaces = true;
        string normalizer = "";
        bool charsMap = false;

        var model = new Reader(path, data, "ModelProto");
        while (model.Next(out int field, out int wire))
        {
            if (field == 1 && wire == 2)
            {
                if (pieces.Count >= MaxPieces) throw new ModelLoadException(path, "pieces", $"more than {MaxPieces} pieces");
                var piece = model.Message($"piece {pieces.Count}");
                string text = "";
                float score = 0;
                var type = PieceType.Normal;
                while (piece.Next(out int f, out int w))
                {
                    if (f == 1 && w == 2) text = piece.String();
                    else if (f == 2 && w == 5) score = piece.Float();
                    else if (f == 3 && w == 0)
                    {
                        ulong t = piece.Varint();
                        if (t is < 1 or > 6) throw new ModelLoadException(path, $"piece {pieces.Count}", $"unknown piece type {t}");
                        type = (PieceType)t;
                    }
                    else piece.Skip(w);
                }
                if (!float.IsFinite(score)) throw new ModelLoadException(path, $"piece {pieces.Count}", $"score is {score}; expected a finite number");
                pieces.Add(text);
                scores.Add(score);
                types.Add(type);
            }
            else if (field == 2 && wire == 2)
            {
                var trainer = model.Message("trainer_spec");
                while (trainer.Next(out int f, out int w))
                {
                    if (w != 0) { trainer.Skip(w); continue; }
                    long v = (long)trainer.Varint();
                    switch (f)
                    {
                        case 3: modelType = (int)v; break;
                        case 35: byteFallback = v != 0; break;
                        case 40: unkId = (int)v; break;
                        case 41: bosId = (int)v; break;
                        case 42: eosId = (int)v; break;
                    }
                }
            }
            else if (field == 3 && wire == 2)
            {
                var spec = model.Message("normalizer_spec");
                while (spec.Next(out int f, out int w))
                {
                    if (f == 1 && w == 2) normalizer = spec.String();
                    else if (f == 2 && w == 2) charsMap = spec.Bytes().Length > 0;
                    else if (f is 3 or 4 && w == 0)
                    {
                        bool v = spec.Varint() != 0;
                        if (f == 3) addDummyPrefix = v; else removeExtraWhitespaces = v;
                    }
                    else spec.Skip(w);
                }
            }
            else model.Skip(wire);
        }

        if (modelType != 2)
            throw new ModelLoadException(path, "trainer_spec.model_type", $"the model is {ModelTypeName(modelType)}; only BPE (the Llama tokenizers) is supported");
        if (charsMap || normalizer is not ("" or "identity"))
            throw new ModelLoadException(path, "normalizer_spec", $"normalizer '{normalizer}' rewrites text; only the identity normalizer (the Llama tokenizers') is supported");
        if (pieces.Count < 3) throw new ModelLoadException(path, "pieces", $"only {pieces.Count} pieces; expected at least <unk>, <s> and </s>");
        return new SentencePieceVocabulary(path, [.. pieces], [.. scores], [.. types], unkId, bosId, eosId, byteFallback, addDummyPrefix, removeExtraWhitespaces);
    }

    private static string ModelTypeName(int type) => type switch { 1 => "unigram", 3 => "word", 4 => "char", _ => $"of type {type}" };

    /// <summary>A protobuf message's fields, read with bounds checks; errors name the file and the message.</summary>
    private ref struct Reader(string path, ReadOnlySpan<byte> data, string where)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_at >= _data.Length) return false;
            ulong tag = Varint();
            field = (int)Math.Min(tag >> 3, int.MaxValue);
            wire = (int)(tag & 7);
            if (field == 0) throw Error("field number 0");
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (_at >= _data.Length) throw Error("truncated varint");
                byte b = _data[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw Error("varint longer than 10 bytes");
        }

        public float Float()
        {
            if (_data.Length - _at < 4) throw Error("truncated float");
            float v = BinaryPrimitives.ReadSingleLittleEndian(_data[_at..]);
            _at += 4;
            return v;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            ulong n = Varint();
            if (n > (ulong)(_data.Length - _at)) throw Error($"a field of {n} bytes runs past the end ({_data.Length - _at} remain)");
            var bytes = _data.Slice(_at, (int)n);
            _at += (int)n;
            return bytes;
        }

        public string String()
        {
            var bytes = Bytes();
            try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
            catch (DecoderFallbackException) { throw Error("a string that is not UTF-8"); }
        }

        public Reader Message(string name) => new(path, Bytes(), name);

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Advance(8); break;
                case 2: Bytes(); break;
                case 5: Advance(4); break;
                default: throw Error($"unsupported wire type {wire}");
            }
        }

        private void Advance(int n)
        {
            if (_data.Length - _at < n) throw Error("truncated field");
            _at += n;
        }

        private readonly ModelLoadException Error(string problem) => new(path, where, $"not a valid SentencePiece model: {problem}");
    }
}
