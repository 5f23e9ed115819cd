using System.Text.Json;

namespace FiRST.Runtime.Loading;

/// <summary>Reads a Hugging Face <c>config.json</c> of a Llama model into a <see cref="ModelConfig"/>.</summary>
internal static class HuggingFaceConfig
{
    /// <summary>Largest config.json accepted; real ones are a few kilobytes.</summary>
    private const long MaxBytes = 1 << 20;

    public static ModelConfig Read(string path) =>
        JsonFile.Parse(JsonFile.ReadBounded(path, MaxBytes, "file not found (a safetensors model needs its config.json beside it)"), path, Interpret);

    private static ModelConfig Interpret(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, "", "expected a JSON object");

        string? modelType = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
        if (modelType is not null && modelType != "llama")
            throw new ModelLoadException(path, "model_type", $"'{modelType}' is not supported; expected 'llama'");
        if (root.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind != JsonValueKind.Null)
            throw new ModelLoadException(path, "rope_scaling", "RoPE scaling is not supported; expected null or absent");
        if (root.TryGetProperty("hidden_act", out var act) && act.ValueKind == JsonValueKind.String && act.GetString() != "silu")
            throw new ModelLoadException(path, "hidden_act", $"'{act.GetString()}' is not supported; expected 'silu'");
        foreach (var bias in new[] { "attention_bias", "mlp_bias" })
            if (root.TryGetProperty(bias, out var b) && b.ValueKind == JsonValueKind.True)
                throw new ModelLoadException(path, bias, "projection biases are not supported; expected false");

        int heads = Int(root, path, "num_attention_heads");
        int dim = Int(root, path, "hidden_size");
        var config = new ModelConfig
        {
            Dim = dim,
            HiddenDim = Int(root, path, "intermediate_size"),
            NLayers = Int(root, path, "num_hidden_layers"),
            NHeads = heads,
            NKvHeads = root.TryGetProperty("num_key_value_heads", out _) ? Int(root, path, "num_key_value_heads") : heads,
            VocabSize = Int(root, path, "vocab_size"),
            MaxSeqLen = Int(root, path, "max_position_embeddings"),
            NormEps = root.TryGetProperty("rms_norm_eps", out _) ? Float(root, path, "rms_norm_eps") : 1e-6f,
            RopeTheta = root.TryGetProperty("rope_theta", out _) ? Float(root, path, "rope_theta") : 10000f,
            SharedClassifier = root.TryGetProperty("tie_word_embeddings", out var tie) && tie.ValueKind == JsonValueKind.True,
        };
        config.Validate(path);
        if (root.TryGetProperty("head_dim", out _) && Int(root, path, "head_dim") != config.HeadSize)
            throw new ModelLoadException(path, "head_dim", $"expected hidden_size / num_attention_heads = {config.HeadSize}");
        return config;
    }

    private static int Int(JsonElement root, string path, string name)
    {
        if (!root.TryGetProperty(name, out var e)) throw new ModelLoadException(path, name, "missing");
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v))
            throw new ModelLoadException(path, name, $"expected a 32-bit integer, got {e.GetRawText()}");
        return v;
    }

    private static float Float(JsonElement root, string path, string name)
    {
        var e = root.GetProperty(name);
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v))
            throw new ModelLoadException(path, name, $"expected a number, got {e.GetRawText()}");
        return (float)v;
    }
}
