using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Saves a float32 (or bfloat16, widened) model as a float32 Hugging Face directory (<c>config.json</c> + one <c>model.safetensors</c>), with
/// only the layers it has loaded: the weight file of a one-task build (<c>first export</c>), which
/// <see cref="SafetensorsCheckpoint"/> reads back with the same layer mask. Query and key rows are written in
/// Hugging Face's rotate-half order, the inverse of what the reader undoes, so the file is an ordinary checkpoint.
/// </summary>
internal static unsafe class SafetensorsWriter
{
    private readonly record struct Tensor(string Name, Matrix Matrix, int Heads = 0, int HeadSize = 0);

    /// <summary>Writes <paramref name="model"/> (float32 or bfloat16 weights, written as float32) into <paramref name="directory"/>; returns the bytes written.</summary>
    public static long Write(LlamaModel model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        var w = model.Weights;
        var c = model.Config;
        if (w.IsQuantized) throw new ArgumentException("the model's weights are int8; a safetensors export is float32", nameof(model));
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), Config(c));

        var tensors = new List<Tensor> { new("model.embed_tokens.weight", w.TokenEmbedding) };
        for (int l = 0; l < c.NLayers; l++)
        {
            if (w.Layers[l] is not { } layer) continue;
            string p = $"model.layers.{l}.";
            tensors.Add(new(p + "input_layernorm.weight", layer.RmsAtt));
            tensors.Add(new(p + "self_attn.q_proj.weight", layer.Wq, c.NHeads, c.HeadSize));
            tensors.Add(new(p + "self_attn.k_proj.weight", layer.Wk, c.NKvHeads, c.HeadSize));
            tensors.Add(new(p + "self_attn.v_proj.weight", layer.Wv));
            tensors.Add(new(p + "self_attn.o_proj.weight", layer.Wo));
            tensors.Add(new(p + "post_attention_layernorm.weight", layer.RmsFfn));
            tensors.Add(new(p + "mlp.gate_proj.weight", layer.W1));
            tensors.Add(new(p + "mlp.down_proj.weight", layer.W2));
            tensors.Add(new(p + "mlp.up_proj.weight", layer.W3));
        }
        tensors.Add(new("model.norm.weight", w.RmsFinal));
        if (!c.SharedClassifier) tensors.Add(new("lm_head.weight", w.Classifier));

        string path = Path.Combine(directory, "model.safetensors");
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        // Norms are vectors; every other tensor is a [rows, cols] matrix.
        WriteHeader(file, tensors.Select(t => (t.Name, t.Name.EndsWith("norm.weight", StringComparison.Ordinal)
            ? new long[] { t.Matrix.Cols } : new long[] { t.Matrix.Rows, t.Matrix.Cols })));
        foreach (var t in tensors) WriteTensor(file, t);
        return file.Length;
    }

    /// <summary>
    /// A safetensors header for float32 (or, with <paramref name="bfloat16"/>, BF16) tensors stored in the order given,
    /// back to back: each tensor's dtype, shape and byte range, padded to 8 bytes as the format recommends. The
    /// tensors' bytes follow it.
    /// </summary>
    internal static void WriteHeader(Stream file, IEnumerable<(string Name, long[] Shape)> tensors, bool bfloat16 = false)
    {
        int elementBytes = bfloat16 ? sizeof(ushort) : sizeof(float);
        using var json = new MemoryStream();
        using (var h = new Utf8JsonWriter(json))
        {
            h.WriteStartObject();
            h.WriteStartObject("__metadata__");
            h.WriteString("format", "pt");
            h.WriteEndObject();
            long offset = 0;
            foreach (var (name, shape) in tensors)
            {
                h.WriteStartObject(name);
                h.WriteString("dtype", bfloat16 ? "BF16" : "F32");
                h.WriteStartArray("shape");
                long count = 1;
                foreach (long d in shape)
                {
                    h.WriteNumberValue(d);
                    count *= d;
                }
                h.WriteEndArray();
                h.WriteStartArray("data_offsets");
                h.WriteNumberValue(offset);
                h.WriteNumberValue(offset += count * elementBytes);
                h.WriteEndArray();
                h.WriteEndObject();
            }
            h.WriteEndObject();
        }
        int pad = (int)((8 - json.Length % 8) % 8);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + pad));
        file.Write(length);
        file.Write(json.GetBuffer().AsSpan(0, (int)json.Length));
        for (int i = 0; i < pad; i++) file.WriteByte((byte)' ');
    }

    private static void WriteTensor(Stream s, Tensor t)
    {
        var m = t.Matrix;
        long rowBytes = (long)m.Cols * sizeof(float);
        if (t.Heads == 0 && m.Data != null)
        {
            s.Write(new ReadOnlySpan<byte>(m.Data, checked((int)(m.Length * sizeof(float)))));
            return;
        }
        // bfloat16 weights are written widened, row by row: the export is a float32 file.
        var wide = m.Data == null ? new float[m.Cols] : null;
        void Row(int r)
        {
            if (wide is null) s.Write(new ReadOnlySpan<byte>(m.Data + (long)r * m.Cols, checked((int)rowBytes)));
            else
            {
                m.CopyRow(r, wide);
                s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(wide.AsSpan()));
            }
        }
        if (t.Heads == 0)
        {
            for (int r = 0; r < m.Rows; r++) Row(r);
            return;
        }
        // Hugging Face row h*hs + j*half + i holds what the runtime (Meta's layout) keeps at row h*hs + 2i + j.
        int half = t.HeadSize / 2;
        for (int h = 0; h < t.Heads; h++)
            for (int j = 0; j < 2; j++)
                for (int i = 0; i < half; i++)
                    Row(h * t.HeadSize + 2 * i + j);
    }

    /// <summary>
    /// transformers 4's <c>rope_scaling</c>: null when unscaled, else <c>rope_type</c> and the type's parameters
    /// (transformers 5 reads the same object into its <c>rope_parameters</c>).
    /// </summary>
    private static void WriteRopeScaling(Utf8JsonWriter j, RopeScaling s)
    {
        if (s.Type == RopeScalingType.Default)
        {
            j.WriteNull("rope_scaling");
            return;
        }
        j.WriteStartObject("rope_scaling");
        j.WriteString("rope_type", s.TypeName);
        j.WriteNumber("factor", s.Factor);
        if (s.Type == RopeScalingType.Llama3)
        {
            j.WriteNumber("low_freq_factor", s.LowFreqFactor);
            j.WriteNumber("high_freq_factor", s.HighFreqFactor);
            j.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositionEmbeddings);
        }
        j.WriteEndObject();
    }

    /// <summary>
    /// A Llama <c>config.json</c> holding the numbers of <paramref name="c"/>, in the transformers 4 layout;
    /// <paramref name="torchDtype"/> names the weights' type as transformers does (read by nothing here).
    /// </summary>
    internal static string Config(ModelConfig c, string torchDtype = "float32")
    {
        using var stream = new MemoryStream();
        using (var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteStartArray("architectures");
            j.WriteStringValue("LlamaForCausalLM");
            j.WriteEndArray();
            j.WriteString("model_type", "llama");
            j.WriteNumber("hidden_size", c.Dim);
            j.WriteNumber("intermediate_size", c.HiddenDim);
            j.WriteNumber("num_hidden_layers", c.NLayers);
            j.WriteNumber("num_attention_heads", c.NHeads);
            j.WriteNumber("num_key_value_heads", c.NKvHeads);
            j.WriteNumber("vocab_size", c.VocabSize);
            j.WriteNumber("max_position_embeddings", c.MaxSeqLen);
            // "R" keeps the float's exact value through text.
            j.WritePropertyName("rms_norm_eps");
            j.WriteRawValue(c.NormEps.ToString("R", CultureInfo.InvariantCulture));
            j.WritePropertyName("rope_theta");
            j.WriteRawValue(c.RopeTheta.ToString("R", CultureInfo.InvariantCulture));
            WriteRopeScaling(j, c.RopeScaling);
            j.WriteBoolean("tie_word_embeddings", c.SharedClassifier);
            j.WriteString("hidden_act", "silu");
            j.WriteString("torch_dtype", torchDtype);
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
