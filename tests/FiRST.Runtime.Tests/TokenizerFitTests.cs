using System.Buffers.Binary;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// A tokenizer must have exactly the model's <c>vocab_size</c> tokens: more would feed ids the model has no
/// embedding for, fewer (another model's, or a file cut short at an entry boundary, which parses cleanly)
/// could not decode what the model predicts. The error names both files.
/// </summary>
public sealed class TokenizerFitTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>tok512.bin cut after its first <paramref name="entries"/> entries, exactly at an entry boundary.</summary>
    internal static string CutAtEntry(string source, int entries, string target)
    {
        byte[] data = File.ReadAllBytes(source);
        int offset = 4;
        for (int i = 0; i < entries; i++) offset += 8 + BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
        File.WriteAllBytes(target, data[..offset]);
        return target;
    }

    [Fact]
    public void A_tokenizer_cut_at_an_entry_boundary_loads_but_does_not_fit_the_model()
    {
        SharedModels.Require();
        string cut = CutAtEntry(SharedModels.Tok512, 300, _dir.File("cut.bin"));
        var tokenizer = TextTokenizer.Load(cut); // a valid file in itself: 300 entries
        Assert.Equal(300, tokenizer.VocabSize);
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        var ex = Assert.Throws<FiRSTException>(() => new TextGenerator(model, tokenizer));
        Assert.Contains(cut, ex.Message);
        Assert.Contains(SharedModels.Stories260K, ex.Message);
        Assert.Contains("300", ex.Message);
        Assert.Contains("512", ex.Message);
    }

    [Fact]
    public void A_larger_tokenizer_does_not_fit_the_model()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        var tokenizer = TextTokenizer.Load(SharedModels.Llama2Bin);
        var ex = Assert.Throws<FiRSTException>(() => tokenizer.EnsureFits(model));
        Assert.Contains(SharedModels.Llama2Bin, ex.Message);
        Assert.Contains("32000", ex.Message);
        // The generator refuses it before any prompt could be encoded into ids the model has no embedding for.
        ex = Assert.Throws<FiRSTException>(() => new TextGenerator(model, tokenizer));
        Assert.Contains(SharedModels.Llama2Bin, ex.Message);
        Assert.Contains(SharedModels.Stories260K, ex.Message);
    }

    [Fact]
    public void The_matching_tokenizer_fits()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        TextTokenizer.Load(SharedModels.Tok512).EnsureFits(model);
    }
}
