using System.CommandLine;
using FiRST.Cli.Reporting;
using FiRST.Evaluation;
using FiRST.Runtime;
using FiRST.Runtime.Loading;
using FiRST.Runtime.Tokenization;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first quantize</c>: saves a model with int8 weights in llama2.c's version-2 (Q8_0) format, or with 4-bit
/// weights as a llama.cpp GGUF file (Q4_0, the int8 classifier Q8_0), with the tokenizer's vocabulary inside.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = CommonOptions.Model();
        var outPath = new Option<string>("--out", "-o") { Description = "Output path: a .bin (llama2.c v2 / Q8_0) with --format q8, a .gguf with --format q4", Required = true };
        var groupSize = new Option<int>("--group-size") { Description = "Values per scale with --format q8 (a power of two; halved where it does not divide a row)", DefaultValueFactory = _ => Quantizer.DefaultGroupSize };
        var format = new Option<string>("--format") { Description = "q8: int8, llama2.c v2 file; q4: 4-bit (Q4_0 values, the classifier int8 as Q8_0), llama.cpp GGUF file", DefaultValueFactory = _ => "q8" };
        format.AcceptOnlyFromAmong("q8", "q4");
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "With --format q4: the vocabulary written into the GGUF file (default: tokenizer.model or tokenizer.bin beside the model, if there is one)" };
        var command = new Command("quantize", "Quantize a model to int8 (llama2.c v2 file) or 4 bits (llama.cpp GGUF file) and save it") { model, outPath, groupSize, format, tokenizer };
        command.SetAction((parse, ct) =>
        {
            string path = parse.GetValue(model)!, target = parse.GetValue(outPath)!;
            int gs = parse.GetValue(groupSize);
            if (gs <= 0 || (gs & (gs - 1)) != 0) throw new ArgumentException($"--group-size must be a power of two, got {gs}");
            if (parse.GetValue(format) == "q4") return Task.FromResult(FourBit(path, target, parse.GetValue(tokenizer), output, error, ct));
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
            long before = SourceBytes(path);
            output.WriteLine($"wrote {target}: groups of {groups}, {new FileInfo(target).Length:N0} bytes ({before:N0} before)");
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>Bytes of the model quantized: the file, or every safetensors shard of a model directory.</summary>
    private static long SourceBytes(string path) =>
        Directory.Exists(path) ? Directory.EnumerateFiles(path, "*.safetensors").Sum(f => new FileInfo(f).Length) : new FileInfo(path).Length;

    /// <summary>--format q4: 4-bit at load, written as GGUF with the vocabulary when one is found.</summary>
    private static int FourBit(string path, string target, string? tokenizerPath, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (!target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--format q4 writes a GGUF file; name it *.gguf, got '{target}'");
        if (tokenizerPath is null)
        {
            try { tokenizerPath = CommonOptions.DefaultTokenizer(path); }
            catch (ArgumentException) { error.WriteLine($"no tokenizer beside {path}: the file carries no vocabulary (pass --tokenizer to add one)"); }
        }
        var vocabulary = tokenizerPath is null ? null : TextTokenizer.Load(tokenizerPath).SentencePiece
            ?? throw new ArgumentException($"{tokenizerPath}: a byte-level BPE vocabulary has no place in a llama GGUF file this runtime writes; pass a SentencePiece tokenizer or none");
        try
        {
            ProgressReporter.For(error).Run(report =>
            {
                string quantizing = $"quantizing {path}", writing = $"writing {target}";
                report(new PassProgress(quantizing, 0, 1) { Line = quantizing });
                using var llama = LlamaModel.Load(path, new ModelLoadOptions { Format = WeightFormat.Q4 });
                report(new PassProgress(quantizing, 1, 1));
                GgufWriter.WriteQuantized(llama, target, vocabulary, new SyncProgress<double>(f => report(new PassProgress(writing, (long)(f * 1000), 1000))), ct);
                return 0;
            });
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            CliErrors.NotWritten(error, target);
            throw;
        }
        long before = SourceBytes(path);
        output.WriteLine($"wrote {target}: 4-bit (Q4_0, classifier Q8_0){(vocabulary is null ? "" : $", {vocabulary.Count} pieces of vocabulary")}, {new FileInfo(target).Length:N0} bytes ({before:N0} before)");
        return 0;
    }
}
