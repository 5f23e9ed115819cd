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

    /// <summary>The embedded demo model shipped beside the CLI (trained by 'first train-demo').</summary>
    public static string DefaultModelPath => Path.Combine(AppContext.BaseDirectory, "DefaultModel", "model.bin");

    /// <summary>--model with the embedded demo model as its default.</summary>
    public static Option<string> ModelOrDefault() => new("--model", "-m")
    {
        Description = "Model: a llama2.c .bin checkpoint, or a Hugging Face directory (default: the embedded demo model)",
        DefaultValueFactory = _ => DefaultModelPath,
    };

    public static Option<string> Quant()
    {
        var option = new Option<string>("--quant", "-q")
        {
            Description = "Weights in memory: 'none' (as stored) or 'q8' (int8, one scale per group of 32, quantized at load)",
            DefaultValueFactory = _ => "none",
        };
        option.AcceptOnlyFromAmong("none", "q8");
        return option;
    }

    public static ModelLoadOptions LoadOptions(string quant) =>
        new() { Format = quant == "q8" ? WeightFormat.Q8 : WeightFormat.AsStored };
}
