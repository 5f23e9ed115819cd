using FiRST.Runtime.Tokenization;

namespace FiRST.Runtime.Chat;

/// <summary>
/// Encodes a formatted chat prompt: BOS, then the text with each of the template's special tokens as its id.
/// <see cref="TextTokenizer.Encode"/> alone would spell <c>&lt;/s&gt;</c> or <c>&lt;|im_start|&gt;</c> out in
/// characters, which is not what a chat model was trained on.
/// </summary>
internal static class PromptEncoder
{
    public static int[] Encode(TextTokenizer tokenizer, string prompt, IReadOnlyList<string> specialTokens)
    {
        var specials = Resolve(tokenizer, specialTokens);
        var ids = new List<int> { tokenizer.BosId };
        int start = 0;
        while (true)
        {
            var (at, text, id) = FirstSpecial(prompt, start, specials);
            // Each piece of text is encoded on its own, so it gets SentencePiece's dummy-prefix space, as the
            // "legacy" Llama tokenizers that Llama 2 and TinyLlama chat were trained with do after a special token.
            ids.AddRange(tokenizer.Encode(prompt[start..(at < 0 ? prompt.Length : at)], addBos: false));
            if (at < 0) return [.. ids];
            ids.Add(id);
            start = at + text.Length;
        }
    }

    /// <summary>The special tokens the vocabulary has, with their ids: BOS and EOS by id, others by piece.</summary>
    private static List<(string Text, int Id)> Resolve(TextTokenizer tokenizer, IReadOnlyList<string> specialTokens)
    {
        var resolved = new List<(string, int)>();
        foreach (string text in specialTokens)
        {
            int id = text == "<s>" ? tokenizer.BosId
                   : text == "</s>" ? tokenizer.EosId
                   : tokenizer.PieceId(text);
            if (id >= 0) resolved.Add((text, id));
        }
        return resolved;
    }

    /// <summary>The earliest special token at or after <paramref name="start"/> (the longest where two start together).</summary>
    private static (int At, string Text, int Id) FirstSpecial(string prompt, int start, List<(string Text, int Id)> specials)
    {
        (int At, string Text, int Id) first = (-1, "", -1);
        foreach (var (text, id) in specials)
        {
            int at = prompt.IndexOf(text, start, StringComparison.Ordinal);
            if (at >= 0 && (first.At < 0 || at < first.At || (at == first.At && text.Length > first.Text.Length)))
                first = (at, text, id);
        }
        return first;
    }
}
