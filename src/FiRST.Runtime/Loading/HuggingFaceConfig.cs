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
        // Keys that change the math and have one supported value: refused otherwise, never ignored.
        if (OptionalString(root, path, "hidden_act") is { } act && act != "silu")
            throw new ModelLoadException(path, "hidden_act", $"'{Clip(act)}' is not supported; expected 'silu'");
        foreach (var bias in new[] { "attention_bias", "mlp_bias" })
            if (OptionalBool(root, path, bias) == true)
                throw new ModelLoadException(path, bias, "projection biases are not supported; expected false");
        if (OptionalInt(root, path, "pretraining_tp") is > 1 and int tp)
            throw new ModelLoadException(path, "pretraining_tp", $"{tp} is not supported; expected 1 (tensor-parallel slicing of the projections)");
        // transformers 5 renamed torch_dtype to dtype. The tensors carry their own types, so the value only has
        // to make sense, but two that disagree mean the file was edited by hand and cannot be trusted.
        string? torchDtype = OptionalString(root, path, "torch_dtype"), dtype = OptionalString(root, path, "dtype");
        if (torchDtype is not null && dtype is not null && torchDtype != dtype)
            throw new ModelLoadException(path, "dtype", $"'{Clip(dtype)}' disagrees with torch_dtype '{Clip(torchDtype)}'");
        var (ropeTheta, ropeScaling) = HuggingFaceRope.Read(root, path);

        int heads = Int(root, path, "num_attention_heads");
        int dim = Int(root, path, "hidden_size");
        var config = new ModelConfig
        {
            Dim = dim,
            HiddenDim = Int(root, path, "intermediate_size"),
            NLayers = Int(root, path, "num_hidden_layers"),
            NHeads = heads,
            NKvHeads = OptionalInt(root, path, "num_key_value_heads") ?? heads,
            VocabSize = Int(root, path, "vocab_size"),
            MaxSeqLen = Int(root, path, "max_position_embeddings"),
            NormEps = root.TryGetProperty("rms_norm_eps", out _) ? Float(root, path, "rms_norm_eps") : 1e-6f,
            RopeTheta = ropeTheta,
            RopeScaling = ropeScaling,
            // LlamaConfig's default is false: without the key the file has its own lm_head.
            SharedClassifier = OptionalBool(root, path, "tie_word_embeddings") ?? false,
        };
        config.Validate(path);
        if (OptionalInt(root, path, "head_dim") is { } headDim && headDim != config.HeadSize)
            throw new ModelLoadException(path, "head_dim", $"{headDim} is not supported; expected hidden_size / num_attention_heads = {config.HeadSize}");
        return config;
    }

    /// <summary>An optional key's value: absent and null (transformers' None) are both "not set".</summary>
    private static bool TryGet(JsonElement root, string name, out JsonElement e) =>
        root.TryGetProperty(name, out e) && e.ValueKind != JsonValueKind.Null;

    private static int? OptionalInt(JsonElement root, string path, string name) =>
        TryGet(root, name, out _) ? Int(root, path, name) : null;

    private static bool? OptionalBool(JsonElement root, string path, string name) =>
        !TryGet(root, name, out var e) ? null
        : e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.ValueKind == JsonValueKind.True
        : throw new ModelLoadException(path, name, $"expected true or false, got {Clip(e.GetRawText())}");

    private static string? OptionalString(JsonElement root, string path, string name) =>
        !TryGet(root, name, out var e) ? null
        : e.ValueKind == JsonValueKind.String ? e.GetString()
        : throw new ModelLoadException(path, name, $"expected a string, got {Clip(e.GetRawText())}");

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

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
