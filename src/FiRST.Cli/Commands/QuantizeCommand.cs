using System.CommandLine;
using FiRST.Runtime;
using FiRST.Runtime.Loading;

namespace FiRST.Cli.Commands;

/// <summary><c>first quantize</c>: saves a model with int8 weights in llama2.c's version-2 (Q8_0) format.</summary>
internal static class QuantizeCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = CommonOptions.Model();
        var outPath = new Option<string>("--out", "-o") { Description = "Output .bin path (llama2.c v2 / Q8_0)", Required = true };
        var groupSize = new Option<int>("--group-size") { Description = "Values per scale (a power of two; halved where it does not divide a row)", DefaultValueFactory = _ => Quantizer.DefaultGroupSize };
        var command = new Command("quantize", "Quantize a model to int8 (one float scale per group) and save it in llama2.c v2 format") { model, outPath, groupSize };
        command.SetAction((parse, ct) =>
        {
            string path = parse.GetValue(model)!, target = parse.GetValue(outPath)!;
            int gs = parse.GetValue(groupSize);
            if (gs <= 0 || (gs & (gs - 1)) != 0) throw new ArgumentException($"--group-size must be a power of two, got {gs}");
            error.WriteLine($"quantizing {path}");
            using var llama = LlamaModel.Load(path, new ModelLoadOptions { Format = WeightFormat.Q8, GroupSize = gs });
            // Loading quantizes and does not watch the token: a signal then stops it before the first write.
            try
            {
                Llama2cWriter.WriteQ8(llama, target, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                CliErrors.NotWritten(error, target); // the writer removed what it had written
                throw;
            }
            long before = new FileInfo(Directory.Exists(path) ? Path.Combine(path, "model.safetensors") : path).Length;
            output.WriteLine($"wrote {target}: groups of {llama.Weights.GroupSize}, {new FileInfo(target).Length:N0} bytes ({before:N0} before)");
            return Task.FromResult(0);
        });
        return command;
    }
}
