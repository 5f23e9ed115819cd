using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FiRST.Runtime.Tests.Support;
using static FiRST.Runtime.Tests.Support.TokenizerJsonWriter;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// Byte-level BPE from a Hugging Face <c>tokenizer.json</c> (Llama 3's layout: a regex split, then GPT-2's byte
/// table, merges by rank, added special tokens), on a vocabulary trained here: ids against an independent,
/// naive encoder written from the published algorithm, exact round trips, the special tokens, the stop tokens
/// of generation_config.json, and a one-line refusal for what it cannot run.
/// </summary>
public sealed class TokenizerJsonTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(int merges = 120, bool ignoreMerges = true, Action<Dictionary<string, object?>>? edit = null, string? generationConfig = null)
    {
        string dir = _dir.File("t" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), Json(merges, ignoreMerges, edit));
        if (generationConfig != null) File.WriteAllText(Path.Combine(dir, "generation_config.json"), generationConfig);
        return Path.Combine(dir, "tokenizer.json");
    }

    /// <summary>The algorithm as published, naively: split, map bytes, then merge the lowest-ranked adjacent pair (leftmost) until none is left.</summary>
    private static List<int> Reference(string text, bool ignoreMerges)
    {
        var (vocabList, learned) = Train(120);
        var vocab = vocabList.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i);
        var specials = new[] { "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>" };
        var ids = new List<int>();
        foreach (string part in Regex.Split(text, "(" + string.Join("|", specials.Select(Regex.Escape)) + ")"))
        {
            if (part.Length == 0) continue;
            int special = Array.IndexOf(specials, part);
            if (special >= 0)
            {
                ids.Add(vocabList.Count + special);
                continue;
            }
            int at = 0;
            var pieces = new List<string>();
            foreach (Match m in Regex.Matches(part, Llama3Pattern))
            {
                if (m.Index > at) pieces.Add(part[at..m.Index]);
                pieces.Add(m.Value);
                at = m.Index + m.Length;
            }
            if (at < part.Length) pieces.Add(part[at..]);
            foreach (string piece in pieces)
            {
                string word = Mapped(piece);
                if (ignoreMerges && vocab.TryGetValue(word, out int whole))
                {
                    ids.Add(whole);
                    continue;
                }
                var symbols = word.Select(c => c.ToString()).ToList();
                while (true)
                {
                    int bestRank = int.MaxValue, bestAt = -1;
                    for (int i = 0; i + 1 < symbols.Count; i++)
                    {
                        int rank = learned.IndexOf((symbols[i], symbols[i + 1]));
                        if (rank >= 0 && rank < bestRank) (bestRank, bestAt) = (rank, i);
                    }
                    if (bestAt < 0) break;
                    symbols[bestAt] += symbols[bestAt + 1];
                    symbols.RemoveAt(bestAt + 1);
                }
                ids.AddRange(symbols.Select(s => vocab[s]));
            }
        }
        return ids;
    }

    public static TheoryData<string> Texts => new()
    {
        "Once upon a time",
        "She liked to play outside in the sunshine.",
        "It's 2026; 12345 apples, and 7 more!!!",
        "aaaa aaaaaaa abababab ,,,,, ----",
        "  two leading spaces and trailing   ",
        "line one\nline two\r\n\n",
        "tabs\tand\u00A0non-breaking",
        "你好世界 Привет 😀👍🏽",
        "<|begin_of_text|>Hello<|eot_id|>",
        "x",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Ids_match_the_published_algorithm_and_decode_back_exactly(string text)
    {
        foreach (bool ignoreMerges in new[] { true, false })
        {
            var tokenizer = TextTokenizer.Load(Write(ignoreMerges: ignoreMerges));
            int[] ids = tokenizer.Encode(text, addBos: false);
            Assert.Equal(Reference(text, ignoreMerges), ids);
            // No dummy prefix in byte-level BPE: the text comes back as it was, spaces included (Decode leaves BOS out).
            string expected = text.Replace("<|begin_of_text|>", "");
            Assert.Equal(expected, tokenizer.Decode(ids));
            Assert.Equal(expected, tokenizer.Decode(tokenizer.Encode(text, addBos: true)));
        }
    }

    [Fact]
    public void Merges_do_their_job_and_special_tokens_are_single_ids()
    {
        var tokenizer = TextTokenizer.Load(Write());
        // A trained vocabulary shortens text: far fewer ids than bytes.
        Assert.True(tokenizer.Encode(Corpus, addBos: false).Length < Encoding.UTF8.GetByteCount(Corpus) / 2);
        int bos = tokenizer.BosId;
        Assert.Equal("<|begin_of_text|>", Encoding.UTF8.GetString(tokenizer.PieceBytes(bos, -1).Span));
        Assert.Equal([bos], tokenizer.Encode("", addBos: true));
        int[] ids = tokenizer.Encode("a<|eot_id|>b", addBos: false);
        Assert.Equal(3, ids.Length);
        Assert.Contains(ids[1], tokenizer.DefaultStopTokens);
        // Streaming keeps the space of the first piece after BOS: there is no dummy prefix to drop.
        int[] hello = tokenizer.Encode(" hello", addBos: true);
        Assert.StartsWith(" ", Encoding.UTF8.GetString(tokenizer.PieceBytes(hello[1], bos).Span));
    }

    [Fact]
    public void Stop_tokens_come_from_generation_config_and_bos_eos_from_tokenizer_config()
    {
        string path = Write(generationConfig: """{"bos_token_id": 0, "eos_token_id": [256, 300]}""");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(path)!, "tokenizer_config.json"), """{"bos_token": "<|eot_id|>", "eos_token": {"content": "<|begin_of_text|>"}}""");
        var tokenizer = TextTokenizer.Load(path);
        Assert.Equal(tokenizer.Encode("<|eot_id|>", addBos: false)[0], tokenizer.BosId);
        Assert.Equal(tokenizer.Encode("<|begin_of_text|>", addBos: false)[0], tokenizer.EosId);
        Assert.Contains(256, tokenizer.DefaultStopTokens);
        Assert.Contains(300, tokenizer.DefaultStopTokens);
        Assert.Contains(tokenizer.EosId, tokenizer.DefaultStopTokens);
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "model.type", "model.type", "WordPiece" },
        { "normalizer", "normalizer", "NFC" },
        { "pre_tokenizer", "pre_tokenizer", "Metaspace" },
        { "byte", "model.vocab", "byte token" },
        { "merge", "model.merges[0]", "lacks" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void What_it_cannot_run_is_refused_in_one_line_naming_the_field(string change, string field, string expected)
    {
        string path = Write(edit: t =>
        {
            var model = (Dictionary<string, object?>)t["model"]!;
            switch (change)
            {
                case "model.type": model["type"] = "WordPiece"; break;
                case "normalizer": t["normalizer"] = new Dictionary<string, object> { ["type"] = "NFC" }; break;
                case "pre_tokenizer": t["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = "Metaspace" }; break;
                case "byte": ((Dictionary<string, int>)model["vocab"]!).Remove("Ā"); break; // byte 0's character
                case "merge": model["merges"] = new object[] { "zz qq" }; break;
            }
        });
        var e = Assert.Throws<ModelLoadException>(() => TextTokenizer.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(field, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
