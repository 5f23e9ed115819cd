using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// The runtime's own <c>tokenizer.model</c> reader on models written here: what it refuses (one line naming the
/// file and the field) and what it honours (user-defined pieces, whitespace clean-up, leftmost merges on ties).
/// </summary>
public sealed class SentencePieceModelTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A tiny BPE model: the specials, all 256 bytes, and the given (piece, score, type) entries.</summary>
    private string Write(IEnumerable<(string Piece, float Score, int Type)> pieces, int modelType = 2, string normalizer = "identity",
                         bool removeExtraWhitespaces = false)
    {
        var model = new ProtoWriter();
        void Piece(string text, float score, int type)
        {
            var p = new ProtoWriter();
            p.String(1, text);
            p.Float(2, score);
            if (type != 1) p.Varint(3, (ulong)type);
            model.Message(1, p);
        }
        Piece("<unk>", 0, 2);
        Piece("<s>", 0, 3);
        Piece("</s>", 0, 3);
        for (int b = 0; b < 256; b++) Piece($"<0x{b:X2}>", 0, 6);
        foreach (var (text, score, type) in pieces) Piece(text, score, type);
        var trainer = new ProtoWriter();
        trainer.Varint(3, (ulong)modelType);
        trainer.Varint(35, 1);
        model.Message(2, trainer);
        var norm = new ProtoWriter();
        norm.String(1, normalizer);
        norm.Varint(3, 1);
        norm.Varint(4, removeExtraWhitespaces ? 1UL : 0UL);
        model.Message(3, norm);
        string path = _dir.File($"t{Guid.NewGuid():N}.model");
        File.WriteAllBytes(path, model.ToArray());
        return path;
    }

    private static readonly (string, float, int)[] Letters = [("▁", -1, 1), ("a", -2, 1), ("b", -3, 1), ("aa", -1, 1), ("▁a", -0.5f, 1)];

    private static string[] Pieces(TextTokenizer t, string text) =>
        t.Encode(text, addBos: false).Select(id => t.Decode([t.BosId, id]) is var s && s.Length > 0 ? s : "?").ToArray();

    [Fact]
    public void Equal_scores_merge_the_leftmost_pair_first()
    {
        var t = TextTokenizer.Load(Write(Letters));
        // "▁aaa": "▁a" (-0.5) beats "aa" (-1); then "a"+"a" forms "aa". With a tie between two "aa" the leftmost wins:
        int[] ids = t.Encode("aaaa", addBos: false);
        Assert.Equal(["a", "aa", "a"], Pieces(t, "aaaa"));
        Assert.Equal(3, ids.Length);
    }

    [Fact]
    public void Text_never_becomes_a_control_or_byte_piece()
    {
        var t = TextTokenizer.Load(Write(Letters));
        int[] ids = t.Encode("<s></s><0x41>", addBos: false);
        Assert.DoesNotContain(t.BosId, ids);
        Assert.DoesNotContain(t.EosId, ids);
        Assert.DoesNotContain(3 + 0x41, ids); // the <0x41> piece stands for "A", which the text does not contain
        Assert.Equal("<s></s><0x41>", t.Decode([t.BosId, .. ids]));
    }

    [Fact]
    public void A_piece_twice_is_refused()
    {
        string path = Write([.. Letters, ("<s>", 10, 1)]);
        var e = Assert.Throws<ModelLoadException>(() => TextTokenizer.Load(path));
        Assert.Contains("appears twice", e.Message);
    }

    [Fact]
    public void User_defined_pieces_stay_whole()
    {
        var t = TextTokenizer.Load(Write([.. Letters, ("<|user|>", 0, 4)]));
        int user = t.Encode("<|user|>", addBos: false)[^1];
        Assert.Equal(2, t.Encode("<|user|>", addBos: false).Length); // "▁" then the user-defined piece
        Assert.Contains(user, t.Encode("ab<|user|>ba", addBos: false));
    }

    [Fact]
    public void Remove_extra_whitespaces_is_honoured()
    {
        var keep = TextTokenizer.Load(Write(Letters));
        var squeeze = TextTokenizer.Load(Write(Letters, removeExtraWhitespaces: true));
        Assert.Equal(squeeze.Encode("a b"), squeeze.Encode("  a   b  "));
        Assert.NotEqual(keep.Encode("a b"), keep.Encode("  a   b  "));
    }

    [Theory]
    [InlineData(1, "", "trainer_spec.model_type", "unigram")]
    [InlineData(2, "nmt_nfkc", "normalizer_spec", "nmt_nfkc")]
    public void Unsupported_models_are_refused_with_the_field(int modelType, string normalizer, string field, string named)
    {
        string path = Write(Letters, modelType, normalizer.Length == 0 ? "identity" : normalizer);
        var e = Assert.Throws<ModelLoadException>(() => TextTokenizer.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(field, e.Message);
        Assert.Contains(named, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
