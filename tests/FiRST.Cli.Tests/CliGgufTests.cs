using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first inspect</c> and <c>first generate</c> take a <c>.gguf</c> model, whose metadata is also the default
/// tokenizer: stories260K written as GGUF (with tok512's vocabulary) generates what the llama2.c files generate.
/// </summary>
public sealed class CliGgufTests
{
    [Fact]
    public void InspectAndGenerateReadAGgufModelAndItsVocabulary()
    {
        SharedModels.Require();
        using var dir = new TempDir();
        string gguf = dir.File("stories260K.gguf");
        GgufWriter.FromModel(TestModel.ReadLlama2c(SharedModels.Stories260K), "F32", GgufWriter.VocabularyFromLlama2c(SharedModels.Tok512)).Write(gguf);

        var inspect = FirstCli.Run("inspect", "--model", gguf);
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains("dim              64", inspect.Stdout);
        Assert.Contains("vocab_size       512", inspect.Stdout);

        string[] common = ["--prompt", "Once upon a time", "--temperature", "0", "--steps", "48", "--threads", "1"];
        var fromGguf = FirstCli.Run(["generate", "--model", gguf, .. common]);
        Assert.True(fromGguf.ExitCode == 0, fromGguf.Stderr);
        var fromBin = FirstCli.Run(["generate", "--model", SharedModels.Stories260K, "--tokenizer", SharedModels.Tok512, .. common]);
        Assert.True(fromBin.ExitCode == 0, fromBin.Stderr);
        // The text goes to the raw stdout stream (bytes, as run.c writes them). The same weights and vocabulary give
        // the same tokens; the llama2.c tokenizer stops at BOS, as run.c does, and a GGUF vocabulary at EOS, as
        // llama.cpp does, so the GGUF run goes on where the llama2.c one ends.
        string bin = System.Text.Encoding.UTF8.GetString(fromBin.StdoutBytes), g = System.Text.Encoding.UTF8.GetString(fromGguf.StdoutBytes);
        Assert.StartsWith("Once upon a time", bin);
        Assert.StartsWith(bin.TrimEnd('\n'), g);
    }
}
