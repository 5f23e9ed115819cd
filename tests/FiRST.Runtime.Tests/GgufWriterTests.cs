using FiRST.Runtime.Loading;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// The runtime's GGUF writer (<c>first quantize --format q4</c>): a 4-bit model written and read back holds the
/// same nibbles and int8 values, its scales rounded to f16 as GGUF stores them; the vocabulary goes with it;
/// what GGUF cannot hold is refused in one line; a cancelled write leaves no file.
/// </summary>
public sealed unsafe class GgufWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly ModelConfig Shape = new() { Dim = 64, HiddenDim = 96, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 40, MaxSeqLen = 32, SharedClassifier = false };

    private static SentencePieceVocabulary Vocabulary(int count)
    {
        var (pieces, scores, types) = Support.GgufWriter.SmallVocabulary(count);
        return new SentencePieceVocabulary("test", pieces, scores, types.Select(t => (PieceType)t).ToArray(), unkId: 0, bosId: 1, eosId: 2,
                                           byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFourBitModelComesBackWithItsValuesAndF16Scales(bool shared)
    {
        var config = Shape with { SharedClassifier = shared };
        string bin = _dir.File($"m{shared}.bin"), gguf = _dir.File($"m{shared}.gguf"), again = _dir.File($"again{shared}.gguf");
        TestModel.Random(config, seed: 4).WriteLlama2c(bin);
        using var original = LlamaModel.Load(bin, new ModelLoadOptions { Format = WeightFormat.Q4 });
        Loading.GgufWriter.WriteQuantized(original, gguf, Vocabulary(config.VocabSize));
        using var back = LlamaModel.Load(gguf);
        Assert.Equal(config, back.Config);
        Assert.Equal(("q4", "q8"), (back.Weights.FormatName, back.Weights.Classifier.FormatName));

        static IEnumerable<Matrix> All(ModelWeights w) =>
            new[] { w.TokenEmbedding, w.Classifier, w.RmsFinal }.Concat(w.Layers.SelectMany(l => new[] { l!.RmsAtt, l.Wq, l.Wk, l.Wv, l.Wo, l.RmsFfn, l.W1, l.W2, l.W3 }));
        foreach (var (a, b) in All(original.Weights).Zip(All(back.Weights)))
        {
            Assert.Equal((a.Rows, a.Cols, a.FormatName), (b.Rows, b.Cols, b.FormatName));
            for (int r = 0; r < a.Rows; r++)
            {
                if (a.IsFourBit)
                    for (int g = 0; g < a.Cols / 32; g++)
                    {
                        var (at, s) = Q4Layout.Offsets(a.Rows, a.Cols, r, g);
                        Assert.True(new ReadOnlySpan<byte>(a.Nibbles + at, 16).SequenceEqual(new ReadOnlySpan<byte>(b.Nibbles + at, 16)), $"row {r}, group {g}");
                        Assert.Equal((float)(Half)a.Scales[s], b.Scales[s]);
                    }
                else if (a.IsInt8)
                {
                    sbyte[] va = new sbyte[a.Cols], vb = new sbyte[a.Cols];
                    float[] sa = new float[a.Cols / a.GroupSize], sb = new float[a.Cols / a.GroupSize];
                    Q8Layout.ReadRow(a, r, va, sa);
                    Q8Layout.ReadRow(b, r, vb, sb);
                    Assert.Equal(va, vb);
                    Assert.Equal(sa.Select(x => (float)(Half)x), sb);
                }
                else Assert.True(a.Row(r).SequenceEqual(b.Row(r)));
            }
        }

        // What was read back writes the same bytes again, and its vocabulary encodes as the one written.
        Loading.GgufWriter.WriteQuantized(back, again, TextTokenizer.Load(gguf).SentencePiece);
        Assert.Equal(File.ReadAllBytes(gguf), File.ReadAllBytes(again));
        var vocabulary = Vocabulary(config.VocabSize);
        var tokenizer = TextTokenizer.Load(gguf);
        Assert.Equal(vocabulary.Pieces, tokenizer.SentencePiece!.Pieces);
        Assert.Equal(vocabulary.Scores, tokenizer.SentencePiece.Scores);
        Assert.Equal(vocabulary.Types, tokenizer.SentencePiece.Types);
    }

    [Fact]
    public void WhatGgufCannotHoldIsRefusedInOneLineAndLeavesNoFile()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q4 });
        string path = _dir.File("stories.gguf");
        // stories260K's hidden size 172 makes its int8 groups 4 values long (the classifier's, the down projections'),
        // which Q8_0's blocks of 32 cannot hold.
        var e = Assert.Throws<ArgumentException>(() => Loading.GgufWriter.WriteQuantized(model, path));
        Assert.Contains("token_embd.weight is q8 in groups of 4", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(path));

        using var floats = LlamaModel.Load(SharedModels.Stories260K);
        Assert.Throws<ArgumentException>(() => Loading.GgufWriter.WriteQuantized(floats, path));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void ACancelledWriteLeavesNoFile()
    {
        string bin = _dir.File("c.bin"), gguf = _dir.File("c.gguf");
        TestModel.Random(Shape, seed: 5).WriteLlama2c(bin);
        using var model = LlamaModel.Load(bin, new ModelLoadOptions { Format = WeightFormat.Q4 });
        using var cancel = new CancellationTokenSource();
        var progress = new Progress(f => { if (f > 0.3) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Loading.GgufWriter.WriteQuantized(model, gguf, null, progress, cancel.Token));
        Assert.False(File.Exists(gguf));
    }

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
