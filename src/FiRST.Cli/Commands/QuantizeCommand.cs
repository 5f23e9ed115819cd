using System.CommandLine;
using FiRST.Cli.Reporting;
using FiRST.Evaluation;
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
            // Two bars: loading quantizes (no steps to count), then the file is written tensor by tensor. Loading
            // does not watch the token: a signal then stops it before the first write.
            int groups;
            try
            {
                groups = ProgressReporter.For(error).Run(report =>
                {
                    string quantizing = $"quantizing {path}", writing = $"writing {target}";
                    report(new PassProgress(quantizing, 0, 1) { Line = quantizing });
                    using var llama = LlamaModel.Load(path, new ModelLoadOptions { Format = WeightFormat.Q8, GroupSize = gs });
                    report(new PassProgress(quantizing, 1, 1));
                    Llama2cWriter.WriteQ8(llama, target, new SyncProgress<double>(f => report(new PassProgress(writing, (long)(f * 1000), 1000))), ct);
                    return llama.Weights.GroupSize;
                });
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Outside Run: the bars have ended, so the line prints below them.
                CliErrors.NotWritten(error, target); // the writer removed what it had written
                throw;
            }
            long before = new FileInfo(Directory.Exists(path) ? Path.Combine(path, "model.safetensors") : path).Length;
            output.WriteLine($"wrote {target}: groups of {groups}, {new FileInfo(target).Length:N0} bytes ({before:N0} before)");
            return Task.FromResult(0);
        });
        return command;
    }
}
