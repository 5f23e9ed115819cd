using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FiRST.Runtime.Tests.Support;

/// <summary>
/// Writes Hugging Face <c>tokenizer.json</c> files for tests: a byte-level BPE in Llama 3's layout, its merges
/// trained here on a small corpus, so the vocabulary is a real one without Meta's file.
/// </summary>
internal static class TokenizerJsonWriter
{
    /// <summary>Llama 3's split pattern, as its tokenizer.json writes it.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string Corpus = """
        Once upon a time, there was a little girl named Lily. She liked to play outside in the sunshine.
        One day, she saw a big, red ball in the park! "Can I play with it?" she asked her mom. It's 2026; 12345 apples.
        The quick brown fox jumps over the lazy dog... aaaa bbbb aaaa abab ,,, !!! ----
        """;

    public static readonly char[] ByteChars = BuildByteChars();

    private static char[] BuildByteChars()
    {
        // GPT-2's bytes_to_unicode, written out again here: printable bytes keep their code point, others move to 256 and up.
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range(0xA1, 0xAC - 0xA1 + 1)).Concat(Enumerable.Range(0xAE, 0xFF - 0xAE + 1)).ToHashSet();
        var chars = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++) chars[b] = printable.Contains(b) ? (char)b : (char)(256 + n++);
        return chars;
    }

    public static string Mapped(string piece) => new(Encoding.UTF8.GetBytes(piece).Select(b => ByteChars[b]).ToArray());

    /// <summary>A byte-level BPE trained on <see cref="Corpus"/>: the 256 byte tokens, then the most frequent pair, <paramref name="merges"/> times.</summary>
    public static (List<string> Vocab, List<(string, string)> Merges) Train(int merges)
    {
        var vocab = ByteChars.Select(c => c.ToString()).ToList();
        var words = Regex.Matches(Corpus, Llama3Pattern).Select(m => Mapped(m.Value).Select(c => c.ToString()).ToList()).ToList();
        var learned = new List<(string, string)>();
        for (int k = 0; k < merges; k++)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (var w in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    counts[(w[i], w[i + 1])] = counts.GetValueOrDefault((w[i], w[i + 1])) + 1;
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1 + "\u0001" + p.Key.Item2, StringComparer.Ordinal).First().Key;
            learned.Add(best);
            if (!vocab.Contains(best.Item1 + best.Item2)) vocab.Add(best.Item1 + best.Item2);
            foreach (var w in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    if (w[i] == best.Item1 && w[i + 1] == best.Item2)
                    {
                        w[i] += w[i + 1];
                        w.RemoveAt(i + 1);
                    }
        }
        return (vocab, learned);
    }

    /// <summary>The text of a trained byte-level tokenizer.json (the fuzzing's seed too).</summary>
    public static string Json(int merges = 120, bool ignoreMerges = true, Action<Dictionary<string, object?>>? edit = null)
    {
        var (vocab, learned) = Train(merges);
        var tokenizer = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["added_tokens"] = new[] { "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>" }
                .Select((t, i) => new Dictionary<string, object> { ["id"] = vocab.Count + i, ["content"] = t, ["special"] = true }).ToArray(),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new Dictionary<string, object>
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new object[]
                {
                    new Dictionary<string, object> { ["type"] = "Split", ["pattern"] = new Dictionary<string, string> { ["Regex"] = Llama3Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false },
                },
            },
            ["decoder"] = new Dictionary<string, object> { ["type"] = "ByteLevel" },
            ["model"] = new Dictionary<string, object?>
            {
                ["type"] = "BPE", ["dropout"] = null, ["byte_fallback"] = false, ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i),
                // Llama 3 writes pairs; older files write "left right" strings: both forms are used.
                ["merges"] = learned.Select((m, i) => i % 2 == 0 ? (object)new[] { m.Item1, m.Item2 } : m.Item1 + " " + m.Item2).ToArray(),
            },
        };
        edit?.Invoke(tokenizer);
        return JsonSerializer.Serialize(tokenizer);
    }
}
