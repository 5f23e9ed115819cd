using System.Buffers.Binary;
using FiRST.Runtime;
using FiRST.Runtime.Tests.Support;
using Xunit;
using CliRunner = FiRST.Runtime.Tests.Support.FirstCli;

namespace FiRST.Cli.Tests;

/// <summary>Bad files and options given to <c>first</c>: one line on stderr naming the problem, no stack trace, a non-zero exit.</summary>
public sealed class CliBadInputTests : IDisposable
{
    private static readonly ModelConfig Small = new()
    {
        Dim = 16, HiddenDim = 32, NLayers = 2, NHeads = 2, NKvHeads = 1, VocabSize = 32, MaxSeqLen = 16,
    };

    private static readonly ModelConfig ShortContext = Small with { VocabSize = 512, MaxSeqLen = 8 };

    private const string LongPrompt = "Once upon a time there was a little girl who liked to play in the park with her dog";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string TempPath(string name) => _dir.File(name);

    private string WriteSmallLlama2c(string name = "model.bin", ModelConfig? config = null, int seed = 1)
    {
        string path = TempPath(name);
        TestModel.Random(config ?? Small, seed).WriteLlama2c(path);
        return path;
    }

    private string WriteHeader(string name, int[] header, long extraBytes = 0) => TestModel.WriteHeader(TempPath(name), header, extraBytes);

    private string WriteSmallSafetensors(string name = "hf")
    {
        string dir = TempPath(name);
        TestModel.Random(Small, 2).WriteSafetensors(dir, "F32");
        return dir;
    }

    private static void AssertOneLineError(CliRunner.Result r, params string[] contains)
    {
        Assert.NotEqual(0, r.ExitCode);
        string err = r.Stderr.TrimEnd('\r', '\n');
        Assert.False(string.IsNullOrEmpty(err), "nothing on stderr");
        Assert.DoesNotContain('\n', err);
        Assert.DoesNotContain("   at ", r.Stderr);
        foreach (string s in contains) Assert.Contains(s, err);
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void Cli_Generate_MissingModel()
    {
        SharedModels.Require();
        string missing = TempPath("no-such-model.bin");
        AssertOneLineError(CliRunner.Run("generate", "--model", missing, "--tokenizer", SharedModels.Tok512), missing, "not found");
    }

    [Fact]
    public void Cli_Generate_TruncatedModel()
    {
        SharedModels.Require();
        string path = TempPath("cut.bin");
        byte[] full = File.ReadAllBytes(SharedModels.Stories260K);
        File.WriteAllBytes(path, full[..(full.Length - 100)]);
        AssertOneLineError(CliRunner.Run("generate", "--model", path, "--tokenizer", SharedModels.Tok512, "-t", "0", "-n", "4"), path, "truncated");
    }

    [Fact]
    public void Cli_Generate_MissingTokenizer()
    {
        SharedModels.Require();
        string missing = TempPath("no-such-tokenizer.bin");
        AssertOneLineError(CliRunner.Run("generate", "--model", SharedModels.Stories260K, "--tokenizer", missing), missing, "not found");
    }

    [Fact]
    public void Cli_Generate_CorruptTokenizer()
    {
        SharedModels.Require();
        string path = TempPath("garbage.model");
        var bytes = new byte[2048];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        AssertOneLineError(CliRunner.Run("generate", "--model", SharedModels.Stories260K, "--tokenizer", path), path);
    }

    [Fact]
    public void Cli_Generate_NoTokenizerBesideModel()
    {
        string path = WriteSmallLlama2c();
        AssertOneLineError(CliRunner.Run("generate", "--model", path), "--tokenizer");
    }

    [Fact]
    public void Cli_Inspect_CorruptModel()
    {
        string path = WriteHeader("corrupt.bin", [16, 32, 2, 3, 1, 32, 16], 1000);
        AssertOneLineError(CliRunner.Run("inspect", "--model", path), path, "n_heads");
    }

    [Fact]
    public void Cli_Inspect_CorruptSafetensors()
    {
        string dir = WriteSmallSafetensors();
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ not json");
        AssertOneLineError(CliRunner.Run("inspect", "--model", dir), Path.Combine(dir, "config.json"), "invalid JSON");
    }

    [Fact]
    public void Cli_Inspect_ValidModel_Succeeds()
    {
        // Baseline: the same command on a good file succeeds, so the failures above are about the files.
        string path = WriteSmallLlama2c();
        var r = CliRunner.Run("inspect", "--model", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("n_layers         2", r.Stdout);
    }

    [Fact]
    public void Cli_Generate_PromptTooLong()
    {
        SharedModels.Require();
        string path = WriteSmallLlama2c("short.bin", ShortContext);
        var r = CliRunner.Run("generate", "--model", path, "--tokenizer", SharedModels.Tok512, "--prompt", LongPrompt, "-t", "0");
        AssertOneLineError(r, "prompt", "8");
        Assert.Empty(r.StdoutBytes);
    }

    [Theory]
    [InlineData("--no-such-option", "--no-such-option")]
    [InlineData("--temperature warm", "warm")]
    [InlineData("--seed -5", "-5")]
    public void Cli_Generate_UnparsableOption(string extra, string named)
    {
        SharedModels.Require();
        var r = CliRunner.Run(["generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512, .. extra.Split(' ')]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Contains(named, r.Stderr);
        // The parser's message plus a pointer to --help; no usage dump, no stack trace.
        Assert.InRange(r.Stderr.TrimEnd('\r', '\n').Split('\n').Length, 1, 3);
        Assert.Empty(r.Stdout);
    }

    [Theory]
    [InlineData("--steps -1", "steps")]
    [InlineData("--threads 0", "threads")]
    [InlineData("--top-p 2", "top-p")]
    [InlineData("--temperature -1", "temperature")]
    [InlineData("--top-k -3", "top-k")]
    public void Cli_Generate_OutOfRangeOption(string extra, string named)
    {
        SharedModels.Require();
        var r = CliRunner.Run(["generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512, .. extra.Split(' ')]);
        AssertOneLineError(r, named);
    }

    [Theory]
    [InlineData("generate --routers none --speculate 8:4", "--speculate 8:4", "keeps 8")]
    [InlineData("generate --speculate 5:4", "--speculate 5:4", "keeps 5")]
    [InlineData("generate --speculate 3:0", "--speculate 3:0", "lookahead")]
    [InlineData("generate --speculate x", "--speculate", "'x' is not E:k")]
    [InlineData("generate --early-exit 0", "--early-exit", "(0, 1]")]
    [InlineData("generate --early-exit 1.5", "--early-exit", "1.5")]
    [InlineData("generate --speculate 3:4 --early-exit 0.5", "--speculate or --early-exit, not both")]
    [InlineData("generate --early-exit 0.5 --policy exact", "dynamic path only")]
    [InlineData("generate --policy fast", "--policy", "fast")]
    [InlineData("bench --speculate 8:4", "--speculate 8:4", "keeps 8")]
    [InlineData("bench --speculate 3:4 --paths", "give one of --paths, --speculate and --dispatch")]
    [InlineData("bench --early-exit 0.9", "--early-exit goes with --dispatch")]
    [InlineData("bench --quant q8 --agreement-positions -1", "--agreement-positions must be at least 0")]
    [InlineData("bench --agreement-positions 64", "--agreement-positions goes with --quant q8|q4")]
    [InlineData("bench --paths --quant q4 --agreement-positions 64", "--agreement-positions goes with --quant q8|q4")]
    [InlineData("bench --dispatch --early-exit 0", "--early-exit", "(0, 1]")]
    [InlineData("eval --early-exit 2 --prompts 1", "--early-exit", "(0, 1]")]
    public void Cli_DecodingOptionsOutOfRange(string command, params string[] named)
    {
        // The embedded model; "copy abc =>" pins the copy path (5 layers) unless told otherwise.
        string[] args = command.Split(' ');
        var r = CliRunner.Run(args[0] == "generate" ? [.. args, "--prompt", "copy abc =>", "-t", "0"] : args);
        AssertOneLineError(r, named);
        Assert.Empty(r.StdoutBytes);
    }

    [Fact]
    public void Cli_UnknownCommand()
    {
        var r = CliRunner.Run("frobnicate");
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Contains("frobnicate", r.Stderr);
        Assert.InRange(r.Stderr.TrimEnd('\r', '\n').Split('\n').Length, 1, 3);
    }

    [Theory]
    [InlineData("generate")]
    [InlineData("eval")]
    public void Cli_TokenizerThatDoesNotFitTheModel(string command)
    {
        SharedModels.Require();
        // Cut at an entry boundary: the file parses, with 300 of the model's 512 tokens.
        byte[] data = File.ReadAllBytes(SharedModels.Tok512);
        int offset = 4;
        for (int i = 0; i < 300; i++) offset += 8 + BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
        string cut = TempPath("cut.bin");
        File.WriteAllBytes(cut, data[..offset]);
        string[] args = command == "eval"
            ? ["eval", "--model", SharedModels.Stories260K, "--tokenizer", cut, "--prompts", "1", "--full-only"]
            : ["generate", "--model", SharedModels.Stories260K, "--tokenizer", cut, "-t", "0", "-n", "4"];
        AssertOneLineError(CliRunner.Run(args), cut, SharedModels.Stories260K, "300", "512");
    }
}
