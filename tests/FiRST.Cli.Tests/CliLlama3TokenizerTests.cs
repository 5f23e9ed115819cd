using System.Text;
using System.Text.Json;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// A Hugging Face directory as a Llama 3 checkpoint comes (config.json, model.safetensors, tokenizer.json and
/// generation_config.json): <c>first generate</c> finds the tokenizer.json beside the weights, echoes the prompt
/// exactly (byte-level BPE adds no space) and stops at a token generation_config.json names.
/// </summary>
public sealed class CliLlama3TokenizerTests
{
    [Fact]
    public void Generate_runs_a_directory_with_tokenizer_json_and_stops_at_its_generation_config()
    {
        using var dir = new TempDir();
        string model = dir.File("llama3-like");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "tokenizer.json"), TokenizerJsonWriter.Json());
        var tokenizer = TextTokenizer.Load(Path.Combine(model, "tokenizer.json"));
        string shape = dir.File("shape.json");
        File.WriteAllText(shape, JsonSerializer.Serialize(new { dim = 64, hidden_dim = 172, n_layers = 2, n_heads = 4, n_kv_heads = 2, vocab_size = tokenizer.VocabSize, max_seq_len = 64, rope_theta = 500000 }));
        var made = FirstCli.Run("make-model", "--shape", shape, "--seed", "3", "--format", "safetensors", "--out", model);
        Assert.True(made.ExitCode == 0, made.Stderr);

        // Without a stop token in reach the random model runs to --steps; its first token, once named a stop token, ends it at once.
        var free = FirstCli.Run("generate", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "--steps", "24");
        Assert.True(free.ExitCode == 0, free.Stderr);
        string text = Encoding.UTF8.GetString(free.StdoutBytes);
        Assert.StartsWith("Once upon a time", text); // the echo: no dummy-prefix space to drop or add
        int prompt = tokenizer.Encode("Once upon a time").Length;
        Assert.Contains("stop: MaxSteps", free.Stderr);

        // Which token came first after the prompt: decode greedily here with the runtime and name it in generation_config.json.
        using var llama = FiRST.Runtime.LlamaModel.Load(model);
        using var session = llama.CreateSession(new FiRST.Runtime.SessionOptions { Threads = 1 });
        ReadOnlySpan<float> logits = default;
        foreach (int t in tokenizer.Encode("Once upon a time")) logits = session.Forward(t);
        int first = logits.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(logits));
        File.WriteAllText(Path.Combine(model, "generation_config.json"), $$"""{"eos_token_id": [{{tokenizer.EosId}}, {{first}}]}""");
        var stopped = FirstCli.Run("generate", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "--steps", "24");
        Assert.True(stopped.ExitCode == 0, stopped.Stderr);
        Assert.Contains("stop: StopToken", stopped.Stderr);
        Assert.Equal("Once upon a time", Encoding.UTF8.GetString(stopped.StdoutBytes).TrimEnd('\n'));
        Assert.True(prompt > 1);
    }
}
