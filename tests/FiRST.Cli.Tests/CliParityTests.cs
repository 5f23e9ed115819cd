using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first generate</c> prints byte for byte what llama2.c's <c>run.c</c> printed for the same model,
/// tokenizer, prompt, sampling settings and step count (outputs recorded in Golden/).
/// </summary>
public sealed class CliParityTests
{
    [Theory]
    [InlineData("stories260K_tok512_noprompt_t0_n256.txt", null, "0", "0.9", null, "256")]
    [InlineData("stories260K_tok512_once_t0_n256.txt", "Once upon a time", "0", "0.9", null, "256")]
    [InlineData("stories260K_tok512_cat_t0_n256.txt", "The little cat", "0", "0.9", null, "256")]
    [InlineData("stories260K_tok512_hello_t0_n64.txt", "hello world", "0", "0.9", null, "64")]
    [InlineData("stories260K_tok512_once_t1_p09_s42_n64.txt", "Once upon a time", "1.0", "0.9", "42", "64")]
    [InlineData("stories260K_tok512_once_t08_p1_s7_n64.txt", "Once upon a time", "0.8", "1.0", "7", "64")]
    public void GenerateMatchesLlama2cByteForByte(string golden, string? prompt, string temperature, string topP, string? seed, string steps)
    {
        SharedModels.Require();
        var args = new List<string>
        {
            "generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512,
            "--temperature", temperature, "--top-p", topP, "--steps", steps, "--threads", "2",
        };
        if (prompt != null) args.AddRange(["--prompt", prompt]);
        if (seed != null) args.AddRange(["--seed", seed]);

        var result = FirstCli.Run([.. args]);

        Assert.True(result.ExitCode == 0, result.Stderr);
        byte[] expected = File.ReadAllBytes(SharedModels.Golden(golden));
        Assert.Equal(expected, result.StdoutBytes);
        Assert.Contains("tok/s", result.Stderr);
    }

    [Fact]
    public void InspectReportsConfigAndSizes()
    {
        SharedModels.Require();
        var result = FirstCli.Run("inspect", "--model", SharedModels.Stories260K);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("dim              64", result.Stdout);
        Assert.Contains("n_kv_heads       4", result.Stdout);
        Assert.Contains("vocab_size       512", result.Stdout);
        // 5 layers x 2 (K and V) x kv_dim 32 x 4 bytes = 1,280 bytes of KV per token.
        Assert.Contains("KV bytes/token   1,280", result.Stdout);
    }
}
