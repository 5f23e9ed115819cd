using System.CommandLine;
using FiRST.Runtime;

namespace FiRST.Cli.Commands;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model: a llama2.c .bin checkpoint, or a Hugging Face directory (config.json + model.safetensors)",
        Required = true,
    };

    /// <summary>The embedded demo model shipped beside the CLI (trained by 'first-train train-demo').</summary>
    public static string DefaultModelPath => Path.Combine(AppContext.BaseDirectory, "demo", "model.bin");

    /// <summary>True when <paramref name="modelPath"/> is the embedded demo model, however the path was written.</summary>
    public static bool IsDefaultModel(string modelPath) =>
        string.Equals(Path.GetFullPath(modelPath), DefaultModelPath, StringComparison.Ordinal);

    /// <summary>--model with the embedded demo model as its default.</summary>
    public static Option<string> ModelOrDefault() => new("--model", "-m")
    {
        Description = "Model: a llama2.c .bin checkpoint, or a Hugging Face directory (default: the embedded demo model)",
        DefaultValueFactory = _ => DefaultModelPath,
    };

    /// <summary>The embedded model's routers, beside it.</summary>
    public static string DefaultRoutersPath => Path.Combine(AppContext.BaseDirectory, "demo", "model.routers.bin");

    /// <summary>--routers: a router file, 'none', or (by default) the embedded model's routers when it runs.</summary>
    public static Option<string?> Routers() => new("--routers", "-r")
    {
        Description = "FiRST routers (a .routers.bin from 'first-train train-routers'): prefill chooses the layers to skip; 'none' runs every layer (default: the embedded model's routers when it runs)",
    };

    public static Option<float> Threshold() => new("--threshold")
    {
        Description = "Skip a layer when its router's mean output over the prompt is below this",
        DefaultValueFactory = _ => 0.5f,
    };

    /// <summary>The routers the options name, checked against the model's path for the default.</summary>
    public static Runtime.Routing.RouterSet? LoadRouters(string? value, string modelPath)
    {
        if (value == "none") return null;
        if (value is null)
            return IsDefaultModel(modelPath) && File.Exists(DefaultRoutersPath) ? Runtime.Routing.RouterSet.Load(DefaultRoutersPath) : null;
        return Runtime.Routing.RouterSet.Load(value);
    }

    /// <summary>--quant; <paramref name="fourBit"/> offers q4 (not where the weights are written in a format without it).</summary>
    public static Option<string> Quant(bool fourBit = true)
    {
        var option = new Option<string>("--quant", "-q")
        {
            Description = "Weights in memory: 'none' (as stored: float32, bfloat16, int8 or 4-bit), 'q8' (int8, one scale per group of 32, quantized at load)"
                          + (fourBit ? ", 'q4' (4-bit, llama.cpp's Q4_0 values with a float32 scale per group of 32, quantized at load)" : "")
                          + " or 'f32' (bfloat16 widened to float32 at load)",
            DefaultValueFactory = _ => "none",
        };
        option.AcceptOnlyFromAmong(fourBit ? ["none", "q8", "q4", "f32"] : ["none", "q8", "f32"]);
        return option;
    }

    public static ModelLoadOptions LoadOptions(string quant, string? adapter = null) =>
        new()
        {
            Format = quant switch { "q8" => WeightFormat.Q8, "q4" => WeightFormat.Q4, "f32" => WeightFormat.F32, _ => WeightFormat.AsStored },
            Adapter = adapter is null ? null : Runtime.Adapters.LoraAdapter.Load(adapter),
        };

    /// <summary>--adapter: LoRA adapters (from 'first-train train-routers --lora-rank') merged into the weights at load.</summary>
    public static Option<string?> Adapter() => new("--adapter") { Description = "LoRA adapters (.lora.bin from 'first-train train-routers --lora-rank') merged into the weights at load" };

    /// <summary>A .gguf model itself (its metadata holds the vocabulary); else tokenizer.model, tokenizer.bin or tokenizer.json (Llama 3) beside the model (or inside a model directory).</summary>
    public static string DefaultTokenizer(string modelPath)
    {
        // A GGUF model carries its own vocabulary.
        if (modelPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && File.Exists(modelPath)) return modelPath;
        string dir = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        foreach (var name in new[] { "tokenizer.model", "tokenizer.bin", "tokenizer.json" })
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new ArgumentException($"no tokenizer given and none of tokenizer.model, tokenizer.bin and tokenizer.json is in {dir}; pass --tokenizer PATH");
    }
}
