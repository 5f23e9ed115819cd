using System.CommandLine;

namespace FiRST.Cli.Commands;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model: a llama2.c .bin checkpoint, or a Hugging Face directory (config.json + model.safetensors)",
        Required = true,
    };
}
