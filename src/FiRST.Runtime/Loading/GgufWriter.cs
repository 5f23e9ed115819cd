using System.Buffers.Binary;
using System.Text;
using FiRST.Runtime.Tokenization;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Saves a quantized model as a llama.cpp GGUF file (v3, architecture <c>llama</c>): 4-bit matrices as Q4_0,
/// int8 ones (groups of 32) as Q8_0, norms as F32, with the <c>llama.*</c> keys and, when given, the
/// SentencePiece vocabulary, so llama.cpp runs the file as it is and this runtime loads it back 4-bit.
/// </summary>
/// <remarks>
/// GGUF stores block scales as f16: a scale is rounded to f16 on the way out (relative change at most 2^-11), the
/// nibbles and int8 values are written as they are. Query and key rows go as the runtime holds them (Meta's
/// interleaved RoPE order, GGUF's own). Tensors are written one at a time, each row read out of the kernel's
/// block order; nothing the size of the model is held.
/// </remarks>
internal static unsafe class GgufWriter
{
    private const int Alignment = 32;
    private const uint TypeF32 = 0, TypeQ4_0 = 2, TypeQ8_0 = 8;
    private const int BlockValues = 32;

    /// <summary>
    /// Writes <paramref name="model"/> (every layer loaded; matrices 4-bit or int8 in groups of 32) to
    /// <paramref name="path"/>; <paramref name="progress"/> receives the share of tensors written. Cancelled (checked
    /// before each tensor) or failed, it leaves no file rather than a truncated one.
    /// </summary>
    /// <exception cref="ArgumentException">The model cannot be written as Q4_0/Q8_0 GGUF; the message says why.</exception>
    public static void WriteQuantized(LlamaModel model, string path, SentencePieceVocabulary? vocabulary = null,
                                      IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        var w = model.Weights;
        var tensors = Tensors(c, w);
        foreach (var (name, m, _) in tensors)
            if (m.Rows > 1 && !(m.IsFourBit || (m.IsInt8 && m.GroupSize == BlockValues)))
                throw new ArgumentException($"{name} is {m.FormatName}{(m.IsInt8 ? $" in groups of {m.GroupSize}" : "")}; GGUF's Q4_0 and Q8_0 need 4-bit or int8 weights in groups of {BlockValues} (rows of whole groups)", nameof(model));
        if (c.RopeScaling.Type is not (RopeScalingType.Default or RopeScalingType.Linear))
            throw new ArgumentException($"RoPE scaling '{c.RopeScaling.Type}' has no GGUF key this runtime reads back; only none and linear are written", nameof(model));
        if (vocabulary is not null && vocabulary.Pieces.Length != c.VocabSize)
            throw new ArgumentException($"the vocabulary has {vocabulary.Pieces.Length} pieces but the model {c.VocabSize} rows", nameof(vocabulary));

        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        try
        {
            using (file)
            {
                var header = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true);
                var metadata = Metadata(model, vocabulary);
                header.Write("GGUF"u8);
                header.Write(3u);
                header.Write((ulong)tensors.Count);
                header.Write((ulong)metadata.Count);
                foreach (var (key, value) in metadata)
                {
                    String(header, key);
                    Value(header, value);
                }
                long offset = 0;
                foreach (var (name, m, type) in tensors)
                {
                    String(header, name);
                    header.Write(m.Rows > 1 ? 2u : 1u);
                    header.Write((ulong)m.Cols);
                    if (m.Rows > 1) header.Write((ulong)m.Rows);
                    header.Write(type);
                    header.Write((ulong)offset);
                    offset = Align(offset + Bytes(m, type));
                }
                header.Flush();
                Pad(file);
                for (int i = 0; i < tensors.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (_, m, type) = tensors[i];
                    WriteTensor(file, m, type);
                    Pad(file);
                    progress?.Report((double)(i + 1) / tensors.Count);
                }
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>The tensors in llama.cpp's names and order, each with the GGUF type it is written as.</summary>
    private static List<(string Name, Matrix M, uint Type)> Tensors(ModelConfig c, ModelWeights w)
    {
        static uint TypeOf(Matrix m) => m.Rows == 1 ? TypeF32 : m.IsFourBit ? TypeQ4_0 : TypeQ8_0;
        var list = new List<(string, Matrix, uint)> { ("token_embd.weight", w.TokenEmbedding, TypeOf(w.TokenEmbedding)) };
        for (int l = 0; l < c.NLayers; l++)
        {
            var lw = w.Layers[l] ?? throw new ArgumentException($"layer {l} is not loaded; a saved model needs every layer");
            foreach (var (name, m) in new[]
                     {
                         ("attn_norm", lw.RmsAtt), ("attn_q", lw.Wq), ("attn_k", lw.Wk), ("attn_v", lw.Wv), ("attn_output", lw.Wo),
                         ("ffn_norm", lw.RmsFfn), ("ffn_gate", lw.W1), ("ffn_down", lw.W2), ("ffn_up", lw.W3),
                     })
                list.Add(($"blk.{l}.{name}.weight", m, TypeOf(m)));
        }
        list.Add(("output_norm.weight", w.RmsFinal, TypeF32));
        if (!c.SharedClassifier) list.Add(("output.weight", w.Classifier, TypeOf(w.Classifier)));
        return list;
    }

    private static List<(string Key, object Value)> Metadata(LlamaModel model, SentencePieceVocabulary? v)
    {
        var c = model.Config;
        var m = new List<(string, object)>
        {
            ("general.architecture", "llama"),
            ("general.name", Path.GetFileNameWithoutExtension(model.WeightsPath)),
            // llama.cpp's file types: 2 is "mostly Q4_0", 7 "mostly Q8_0".
            ("general.file_type", model.Weights.FormatName == "q4" ? 2u : 7u),
            ("llama.context_length", (uint)c.MaxSeqLen),
            ("llama.embedding_length", (uint)c.Dim),
            ("llama.block_count", (uint)c.NLayers),
            ("llama.feed_forward_length", (uint)c.HiddenDim),
            ("llama.attention.head_count", (uint)c.NHeads),
            ("llama.attention.head_count_kv", (uint)c.NKvHeads),
            ("llama.attention.layer_norm_rms_epsilon", c.NormEps),
            ("llama.rope.freq_base", c.RopeTheta),
            ("llama.rope.dimension_count", (uint)c.HeadSize),
            ("llama.vocab_size", (uint)c.VocabSize),
        };
        if (c.RopeScaling.Type == RopeScalingType.Linear)
        {
            m.Add(("llama.rope.scaling.type", "linear"));
            m.Add(("llama.rope.scaling.factor", (float)c.RopeScaling.Factor));
        }
        if (v is not null)
        {
            m.Add(("tokenizer.ggml.model", "llama"));
            m.Add(("tokenizer.ggml.tokens", v.Pieces));
            m.Add(("tokenizer.ggml.scores", v.Scores));
            m.Add(("tokenizer.ggml.token_type", v.Types.Select(t => (int)t).ToArray()));
            m.Add(("tokenizer.ggml.unknown_token_id", (uint)v.UnkId));
            m.Add(("tokenizer.ggml.bos_token_id", (uint)v.BosId));
            m.Add(("tokenizer.ggml.eos_token_id", (uint)v.EosId));
            m.Add(("tokenizer.ggml.add_space_prefix", v.AddDummyPrefix));
            m.Add(("tokenizer.ggml.remove_extra_whitespaces", v.RemoveExtraWhitespaces));
        }
        return m;
    }

    private static long Bytes(Matrix m, uint type) => type switch
    {
        TypeF32 => m.Length * 4,
        TypeQ4_0 => m.Length / BlockValues * 18,
        _ => m.Length / BlockValues * 34,
    };

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream s)
    {
        long pad = Align(s.Position) - s.Position;
        if (pad > 0) s.Write(stackalloc byte[(int)pad]);
    }

    private static void WriteTensor(Stream s, Matrix m, uint type)
    {
        if (type == TypeF32)
        {
            var row = new float[m.Cols];
            for (int r = 0; r < m.Rows; r++)
            {
                m.CopyRow(r, row);
                s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()));
            }
            return;
        }
        int groups = m.Cols / BlockValues;
        var buffer = new byte[groups * (type == TypeQ4_0 ? 18 : 34)];
        var values = new sbyte[m.Cols];
        var scales = new float[groups];
        for (int r = 0; r < m.Rows; r++)
        {
            if (type == TypeQ8_0) Q8Layout.ReadRow(m, r, values, scales);
            for (int g = 0; g < groups; g++)
            {
                if (type == TypeQ4_0)
                {
                    var (at, scale) = Q4Layout.Offsets(m.Rows, m.Cols, r, g);
                    var block = buffer.AsSpan(g * 18, 18);
                    BinaryPrimitives.WriteHalfLittleEndian(block, (Half)m.Scales[scale]);
                    new ReadOnlySpan<byte>(m.Nibbles + at, Q4Layout.GroupBytes).CopyTo(block[2..]);
                }
                else
                {
                    var block = buffer.AsSpan(g * 34, 34);
                    BinaryPrimitives.WriteHalfLittleEndian(block, (Half)scales[g]);
                    System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan(g * BlockValues, BlockValues)).CopyTo(block[2..]);
                }
            }
            s.Write(buffer);
        }
    }

    private static void String(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    /// <summary>GGUF value types: uint32 4, int32 5, float32 6, bool 7, string 8, array 9.</summary>
    private static void Value(BinaryWriter w, object value)
    {
        switch (value)
        {
            case string s: w.Write(8u); String(w, s); break;
            case bool b: w.Write(7u); w.Write((byte)(b ? 1 : 0)); break;
            case uint u: w.Write(4u); w.Write(u); break;
            case float f: w.Write(6u); w.Write(f); break;
            case string[] a: w.Write(9u); w.Write(8u); w.Write((ulong)a.Length); foreach (var s in a) String(w, s); break;
            case float[] a: w.Write(9u); w.Write(6u); w.Write((ulong)a.Length); foreach (var f in a) w.Write(f); break;
            case int[] a: w.Write(9u); w.Write(5u); w.Write((ulong)a.Length); foreach (var i in a) w.Write(i); break;
            default: throw new ArgumentException($"no GGUF encoding for {value.GetType()}");
        }
    }
}
