using System.CommandLine;
using System.Text.Json;
using FiRST.Cli.Reporting;
using FiRST.Evaluation;
using FiRST.Runtime;
using FiRST.Runtime.Loading;

namespace FiRST.Cli.Commands;

/// <summary><c>first make-model</c>: writes a seeded random-weight model in llama2.c format, for benchmarks.</summary>
internal static class MakeModelCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var shape = new Option<string>("--shape") { Description = "15M, 110M, or a JSON file {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len}", Required = true };
        var seed = new Option<ulong>("--seed", "-s") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var outPath = new Option<string>("--out", "-o") { Description = "Output .bin path", Required = true };
        var command = new Command("make-model", "Write a random-weight model (weights ~ N(0, 0.02), norms 1) in llama2.c .bin format") { shape, seed, outPath };
        command.SetAction((parse, ct) =>
        {
            string spec = parse.GetValue(shape)!;
            var config = spec.ToUpperInvariant() switch
            {
                "15M" => RandomCheckpoint.Shape15M,
                "110M" => RandomCheckpoint.Shape110M,
                _ => ReadShape(spec),
            };
            string path = parse.GetValue(outPath)!;
            int lastPercent = -1;
            try
            {
                ProgressReporter.For(error).Run(report => RandomCheckpoint.Write(config, parse.GetValue(seed), path, progress: new SyncProgress<double>(f =>
                {
                    // A log gets a line every 10 percent.
                    int percent = (int)(f * 100);
                    bool line = percent != lastPercent && percent % 10 == 0;
                    if (line) lastPercent = percent;
                    report(new PassProgress($"writing {path}", percent, 100) { Line = line ? $"writing {path}: {percent}%" : null });
                }), cancellationToken: ct));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Outside Run: the bar has ended, so the line prints below it.
                CliErrors.NotWritten(error, path); // the writer removed what it had written
                throw;
            }
            output.WriteLine($"wrote {path}: {config.ParameterCount:N0} parameters, {new FileInfo(path).Length:N0} bytes");
            return Task.FromResult(0);
        });
        return command;
    }

    private static ModelConfig ReadShape(string path)
    {
        if (!File.Exists(path)) throw new ModelLoadException(path, "", "shape file not found (expected 15M, 110M or a JSON file)");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var r = doc.RootElement;
            int Get(string name) => r.TryGetProperty(name, out var e) && e.TryGetInt32(out int v) ? v : throw new ModelLoadException(path, name, "missing or not a 32-bit integer");
            var config = new ModelConfig
            {
                Dim = Get("dim"), HiddenDim = Get("hidden_dim"), NLayers = Get("n_layers"), NHeads = Get("n_heads"),
                NKvHeads = r.TryGetProperty("n_kv_heads", out _) ? Get("n_kv_heads") : Get("n_heads"),
                VocabSize = Get("vocab_size"), MaxSeqLen = Get("max_seq_len"),
            };
            config.Validate(path);
            return config;
        }
        catch (JsonException e)
        {
            throw new ModelLoadException(path, "", $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }
}
