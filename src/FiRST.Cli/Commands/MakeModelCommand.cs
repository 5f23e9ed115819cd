using System.CommandLine;
using System.Text.Json;
using FiRST.Cli.Reporting;
using FiRST.Evaluation;
using FiRST.Runtime;
using FiRST.Runtime.Loading;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first make-model</c>: writes a seeded random-weight model, for benchmarks: a llama2.c <c>.bin</c>, or a Hugging
/// Face directory where the shape has settings a llama2.c header cannot hold (RoPE base or scaling, norm epsilon).
/// </summary>
internal static class MakeModelCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var shape = new Option<string>("--shape")
        {
            Description = "15M, 110M, 1B (TinyLlama 1.1B), 7B (Llama 2 7B), llama3-1B (Llama 3.2 1B), or a JSON file {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len" +
                          "[, norm_eps, rope_theta, rope_scaling]} (rope_scaling as in a profile's model block)",
            Required = true,
        };
        var format = new Option<string>("--format")
        {
            Description = "llama2c (.bin), safetensors (a directory: config.json + model.safetensors, or 5 GB shards and model.safetensors.index.json when larger), " +
                          "or auto: llama2c unless the shape needs safetensors",
            DefaultValueFactory = _ => "auto",
        };
        format.AcceptOnlyFromAmong("auto", "llama2c", "safetensors");
        var dtype = new Option<string>("--dtype")
        {
            Description = "Element type of a safetensors model: F32, or BF16 (each weight rounded to the nearest bfloat16, as most published checkpoints are stored)",
            DefaultValueFactory = _ => "F32",
        };
        dtype.AcceptOnlyFromAmong("F32", "BF16");
        var seed = new Option<ulong>("--seed", "-s") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var outPath = new Option<string>("--out", "-o") { Description = "Output .bin path (llama2c) or directory (safetensors)", Required = true };
        var command = new Command("make-model", "Write a random-weight model (weights ~ N(0, 0.02), norms 1) as llama2.c .bin or Hugging Face safetensors") { shape, seed, outPath, format, dtype };
        command.SetAction((parse, ct) =>
        {
            string spec = parse.GetValue(shape)!;
            var config = spec.ToUpperInvariant() switch
            {
                "15M" => RandomCheckpoint.Shape15M,
                "110M" => RandomCheckpoint.Shape110M,
                "1B" => RandomCheckpoint.ShapeTinyLlama1B,
                "7B" => RandomCheckpoint.ShapeLlama2_7B,
                "LLAMA3-1B" => RandomCheckpoint.ShapeLlama3_1B,
                _ => ReadShape(spec),
            };
            string path = parse.GetValue(outPath)!;
            bool safetensors = parse.GetValue(format) switch
            {
                "safetensors" => true,
                "llama2c" => false,
                _ => !Representable(config, path),
            };
            bool bfloat16 = parse.GetValue(dtype) == "BF16";
            if (bfloat16 && !safetensors) throw new ArgumentException("--dtype BF16 writes a safetensors model; llama2.c's .bin holds float32 (add --format safetensors)");
            int lastPercent = -1;
            var started = System.Diagnostics.Stopwatch.StartNew();
            long bytes = 0;
            try
            {
                ProgressReporter.For(error).Run(report =>
                {
                    var progress = new SyncProgress<double>(f =>
                    {
                        // A log gets a line every 10 percent.
                        int percent = (int)(f * 100);
                        bool line = percent != lastPercent && percent % 10 == 0;
                        if (line) lastPercent = percent;
                        report(new PassProgress($"writing {path}", percent, 100) { Line = line ? $"writing {path}: {percent}%" : null });
                    });
                    if (safetensors) bytes = RandomCheckpoint.WriteDirectory(config, parse.GetValue(seed), path, progress: progress, cancellationToken: ct, bfloat16: bfloat16);
                    else
                    {
                        RandomCheckpoint.Write(config, parse.GetValue(seed), path, progress: progress, cancellationToken: ct);
                        bytes = new FileInfo(path).Length;
                    }
                });
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Outside Run: the bar has ended, so the line prints below it.
                CliErrors.NotWritten(error, path); // the writer removed what it had written
                throw;
            }
            output.WriteLine($"wrote {path}: {config.ParameterCount:N0} parameters, {bytes:N0} bytes, {started.Elapsed.TotalSeconds:F1} s");
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>True when a llama2.c header can hold the shape (it has no norm epsilon, RoPE base or scaling).</summary>
    private static bool Representable(ModelConfig config, string path)
    {
        try
        {
            Llama2cCheckpoint.EnsureRepresentable(config, path);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static ModelConfig ReadShape(string path)
    {
        if (!File.Exists(path)) throw new ModelLoadException(path, "", "shape file not found (expected 15M, 110M, 1B, 7B, llama3-1B or a JSON file)");
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
            // The optional settings, read as a profile's model block reads them (same names, same checks).
            if (r.TryGetProperty("norm_eps", out _) || r.TryGetProperty("rope_theta", out _) || r.TryGetProperty("rope_scaling", out _))
            {
                var model = FiRST.Runtime.Profiles.ModelProfile.Parse(System.Text.Encoding.UTF8.GetBytes(
                    $$"""{"schema": "{{FiRST.Runtime.Profiles.ModelProfile.Schema}}", "model": {{ModelBlock(r)}}, "tasks": []}"""), path).Model;
                config = config with { NormEps = model.NormEps, RopeTheta = model.RopeTheta, RopeScaling = model.RopeScaling };
            }
            config.Validate(path);
            return config;
        }
        catch (JsonException e)
        {
            throw new ModelLoadException(path, "", $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    /// <summary>The shape file as a profile's model block: its own keys plus the architecture.</summary>
    private static string ModelBlock(JsonElement shape)
    {
        var block = System.Text.Json.Nodes.JsonNode.Parse(shape.GetRawText())!.AsObject();
        block["architecture"] = FiRST.Schema.ProfileSchema.Architecture;
        block.TryAdd("n_kv_heads", block["n_heads"]?.DeepClone());
        return block.ToJsonString();
    }
}
