using System.Text;

namespace FiRST.Runtime.Tests.Support;

/// <summary>
/// A test-side GGUF v3 writer, from the format's description (ggml's docs/gguf.md) and not the runtime's reader:
/// header, metadata key/values, tensor infos (dimensions fastest-first), padding to the alignment, data. The
/// quantizers follow ggml's reference ones (<c>quantize_row_q8_0_ref</c>, <c>quantize_row_q4_0_ref</c>).
/// </summary>
internal sealed class GgufWriter
{
    private readonly List<(string Key, object Value)> _metadata = [];
    private readonly List<(string Name, long[] Dims, uint Type, byte[] Data)> _tensors = [];

    public int Alignment { get; init; } = 32;

    /// <summary>Adds a key: string, bool, int (uint32), float (float32), string[], float[] or int[] (int32).</summary>
    public GgufWriter Set(string key, object value)
    {
        _metadata.RemoveAll(m => m.Key == key);
        _metadata.Add((key, value));
        return this;
    }

    public GgufWriter Remove(string key)
    {
        _metadata.RemoveAll(m => m.Key == key);
        return this;
    }

    /// <summary>
    /// Adds a tensor <c>[rows, cols]</c> (or a vector when <paramref name="rows"/> is 0) in <paramref name="type"/>;
    /// one of the same name is replaced in place.
    /// </summary>
    public GgufWriter Tensor(string name, float[] data, int rows, int cols, string type)
    {
        long[] dims = rows == 0 ? [cols] : [cols, rows];
        var (id, bytes) = Encode(data, type);
        int at = _tensors.FindIndex(t => t.Name == name);
        if (at >= 0) _tensors[at] = (name, dims, id, bytes);
        else _tensors.Add((name, dims, id, bytes));
        return this;
    }

    /// <summary>Adds a tensor with a raw ggml type id and data (for refusals).</summary>
    public GgufWriter RawTensor(string name, long[] dims, uint type, byte[] data)
    {
        _tensors.Add((name, dims, type, data));
        return this;
    }

    public void Write(string path)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write("GGUF"u8);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            String(w, key);
            Value(w, value);
        }
        long offset = 0;
        var offsets = new List<long>();
        foreach (var (name, dims, type, data) in _tensors)
        {
            String(w, name);
            w.Write((uint)dims.Length);
            foreach (long d in dims) w.Write((ulong)d);
            w.Write(type);
            w.Write((ulong)offset);
            offsets.Add(offset);
            offset = Align(offset + data.Length);
        }
        w.Write(new byte[Align(w.BaseStream.Position) - w.BaseStream.Position]);
        foreach (var (_, _, _, data) in _tensors)
        {
            w.Write(data);
            w.Write(new byte[Align(data.Length) - data.Length]);
        }
    }

    private long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void String(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void Value(BinaryWriter w, object value)
    {
        switch (value)
        {
            case string s: w.Write(8u); String(w, s); break;
            case bool b: w.Write(7u); w.Write((byte)(b ? 1 : 0)); break;
            case int i: w.Write(4u); w.Write((uint)i); break;
            case float f: w.Write(6u); w.Write(f); break;
            case string[] a: w.Write(9u); w.Write(8u); w.Write((ulong)a.Length); foreach (var s in a) String(w, s); break;
            case float[] a: w.Write(9u); w.Write(6u); w.Write((ulong)a.Length); foreach (var f in a) w.Write(f); break;
            case int[] a: w.Write(9u); w.Write(5u); w.Write((ulong)a.Length); foreach (var i in a) w.Write(i); break;
            default: throw new ArgumentException($"no GGUF encoding for {value.GetType()}");
        }
    }

    /// <summary>The ggml type id and bytes of <paramref name="data"/> in <paramref name="type"/>.</summary>
    public static (uint Type, byte[] Bytes) Encode(float[] data, string type)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        uint id;
        switch (type)
        {
            case "F32": id = 0; foreach (var f in data) w.Write(f); break;
            case "F16": id = 1; foreach (var f in data) w.Write((Half)f); break;
            case "BF16": id = 30; foreach (var f in data) w.Write((ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)); break;
            case "Q8_0":
                id = 8;
                for (int b = 0; b < data.Length / 32; b++)
                {
                    var (d, q) = Q8_0(data.AsSpan(b * 32, 32));
                    w.Write(d);
                    foreach (var v in q) w.Write(v);
                }
                break;
            case "Q4_0":
                id = 2;
                for (int b = 0; b < data.Length / 32; b++)
                {
                    var (d, q) = Q4_0(data.AsSpan(b * 32, 32));
                    w.Write(d);
                    for (int j = 0; j < 16; j++) w.Write((byte)(q[j] | (q[j + 16] << 4)));
                }
                break;
            default: throw new ArgumentException(type);
        }
        w.Flush();
        return (id, ms.ToArray());
    }

    /// <summary>ggml's quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d) (ties away from zero), d stored as f16.</summary>
    public static (Half D, sbyte[] Q) Q8_0(ReadOnlySpan<float> x)
    {
        float amax = 0;
        foreach (var v in x) amax = Math.Max(amax, Math.Abs(v));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        var q = new sbyte[32];
        for (int j = 0; j < 32; j++) q[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        return ((Half)d, q);
    }

    /// <summary>ggml's quantize_row_q4_0_ref: d = (the value of largest magnitude) / -8, nibble = min(15, (int8)(x / d + 8.5)).</summary>
    public static (Half D, byte[] Q) Q4_0(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (var v in x)
            if (Math.Abs(v) > amax) { amax = Math.Abs(v); max = v; }
        float d = max / -8, id = d != 0 ? 1 / d : 0;
        var q = new byte[32];
        for (int j = 0; j < 32; j++) q[j] = (byte)Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
        return ((Half)d, q);
    }

    /// <summary>What a reader gets back from <paramref name="data"/> stored as <paramref name="type"/> (the test's own dequantizer).</summary>
    public static float[] RoundTrip(float[] data, string type)
    {
        var result = new float[data.Length];
        for (int b = 0; b < data.Length / 32; b++)
        {
            var block = data.AsSpan(b * 32, 32);
            if (type == "Q8_0")
            {
                var (d, q) = Q8_0(block);
                for (int j = 0; j < 32; j++) result[b * 32 + j] = q[j] * (float)d;
            }
            else
            {
                var (d, q) = Q4_0(block);
                for (int j = 0; j < 32; j++) result[b * 32 + j] = (q[j] - 8) * (float)d;
            }
        }
        return result;
    }

    /// <summary>
    /// A llama GGUF of <paramref name="m"/>: the llama.* keys, every tensor in <paramref name="type"/> except the norms
    /// (F32, as llama.cpp keeps them), q/k rows as stored (GGUF's order is llama2.c's), and, when given, a
    /// SentencePiece vocabulary.
    /// </summary>
    public static GgufWriter FromModel(TestModel m, string type, (string[] Pieces, float[] Scores, int[] Types)? vocabulary = null)
    {
        var c = m.Config;
        var g = new GgufWriter()
            .Set("general.architecture", "llama")
            .Set("general.name", "test")
            .Set("llama.context_length", c.MaxSeqLen)
            .Set("llama.embedding_length", c.Dim)
            .Set("llama.block_count", c.NLayers)
            .Set("llama.feed_forward_length", c.HiddenDim)
            .Set("llama.rope.dimension_count", c.HeadSize)
            .Set("llama.attention.head_count", c.NHeads)
            .Set("llama.attention.head_count_kv", c.NKvHeads)
            .Set("llama.attention.layer_norm_rms_epsilon", c.NormEps)
            .Set("llama.rope.freq_base", c.RopeTheta);
        if (vocabulary is { } v)
            g.Set("tokenizer.ggml.model", "llama").Set("tokenizer.ggml.tokens", v.Pieces).Set("tokenizer.ggml.scores", v.Scores)
             .Set("tokenizer.ggml.token_type", v.Types).Set("tokenizer.ggml.bos_token_id", 1).Set("tokenizer.ggml.eos_token_id", 2)
             .Set("tokenizer.ggml.unknown_token_id", 0);
        int dim = c.Dim, kv = c.KvDim, hid = c.HiddenDim;
        g.Tensor("token_embd.weight", m.Embedding, c.VocabSize, dim, type);
        for (int l = 0; l < c.NLayers; l++)
        {
            string p = $"blk.{l}.";
            g.Tensor(p + "attn_norm.weight", m.RmsAtt[l], 0, dim, "F32")
             .Tensor(p + "attn_q.weight", m.Wq[l], dim, dim, type)
             .Tensor(p + "attn_k.weight", m.Wk[l], kv, dim, type)
             .Tensor(p + "attn_v.weight", m.Wv[l], kv, dim, type)
             .Tensor(p + "attn_output.weight", m.Wo[l], dim, dim, type)
             .Tensor(p + "ffn_norm.weight", m.RmsFfn[l], 0, dim, "F32")
             .Tensor(p + "ffn_gate.weight", m.W1[l], hid, dim, type)
             .Tensor(p + "ffn_down.weight", m.W2[l], dim, hid, type)
             .Tensor(p + "ffn_up.weight", m.W3[l], hid, dim, type);
        }
        g.Tensor("output_norm.weight", m.RmsFinal, 0, dim, "F32");
        if (!c.SharedClassifier) g.Tensor("output.weight", m.Classifier, c.VocabSize, dim, type);
        return g;
    }

    /// <summary>
    /// A SentencePiece vocabulary as GGUF stores it, from a llama2.c tokenizer file, read here from its description
    /// (int32 max length, then per token float32 score, int32 length, bytes): llama2.c's export wrote '▁' as ' '
    /// and dropped the types, so id 0 is unknown (2), 1 and 2 control (3), &lt;0xNN&gt; bytes (6), the rest normal (1).
    /// </summary>
    public static (string[] Pieces, float[] Scores, int[] Types) VocabularyFromLlama2c(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        r.ReadInt32();
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        while (r.BaseStream.Position < r.BaseStream.Length)
        {
            scores.Add(r.ReadSingle());
            string text = Encoding.UTF8.GetString(r.ReadBytes(r.ReadInt32()));
            int id = pieces.Count;
            bool isByte = text.Length == 6 && text.StartsWith("<0x") && text.EndsWith('>');
            pieces.Add(id switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => isByte ? text : text.Replace(' ', '\u2581') });
            types.Add(id switch { 0 => 2, 1 or 2 => 3, _ => isByte ? 6 : 1 });
        }
        return ([.. pieces], [.. scores], [.. types]);
    }

    /// <summary>A made-up SentencePiece vocabulary of <paramref name="count"/> pieces (unk, bos, eos, then letters and pairs).</summary>
    public static (string[] Pieces, float[] Scores, int[] Types) SmallVocabulary(int count)
    {
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        string letters = "\u2581abcdefghijklmnopqrstuvwxyz";
        for (int i = 0; pieces.Count < count; i++)
            pieces.Add(i < letters.Length ? letters[i].ToString() : $"{letters[i % letters.Length]}{letters[i / letters.Length % letters.Length]}");
        var types = pieces.Select((_, i) => i == 0 ? 2 : i < 3 ? 3 : 1).ToArray();
        return ([.. pieces], pieces.Select((_, i) => -(float)i).ToArray(), types);
    }
}
