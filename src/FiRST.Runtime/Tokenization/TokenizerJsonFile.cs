using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> holding a byte-level BPE model (Llama 3, GPT-2 and their kin) into
/// a <see cref="ByteLevelBpe"/>, with BOS and EOS from <c>tokenizer_config.json</c> beside it (else Llama 3's
/// names) and the stop tokens of <c>generation_config.json</c>. What it cannot run exactly (another model type,
/// a normalizer, a pre-tokenizer other than a regex split and the byte table) is refused with the field named.
/// </summary>
internal static class TokenizerJsonFile
{
    private const long MaxBytes = 64L << 20;

    /// <summary>The GPT-2 split, what a ByteLevel pre-tokenizer with <c>use_regex</c> applies.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public sealed record Loaded(ByteLevelBpe Model, byte[][] Pieces, bool[] IsSpecial, int[] StopTokens);

    public static Loaded Read(string path)
    {
        var json = JsonFile.ReadBounded(path, MaxBytes, "tokenizer file not found");
        var loaded = JsonFile.Parse(json, path, (root, source) => Parse(root, source));
        return loaded;
    }

    private static Loaded Parse(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, "", "expected a JSON object");
        var model = Object(root, "model", path);
        string type = String(model, "type", path, "model.type") ?? "BPE";
        if (type != "BPE") throw new ModelLoadException(path, "model.type", $"'{type}' models are not supported; only byte-level BPE (Llama 3) is");
        if (model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True)
            throw new ModelLoadException(path, "model.byte_fallback", "byte fallback belongs to SentencePiece-style BPE; use the tokenizer.model of such a model");
        foreach (string field in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                throw new ModelLoadException(path, "model." + field, $"'{v.GetString()}' is not supported");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
            throw new ModelLoadException(path, "model.dropout", "BPE dropout makes encoding random; expected null");
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            throw new ModelLoadException(path, "normalizer", $"normalizer '{TypeOf(normalizer)}' is not supported (Llama 3 has none)");
        var (split, addPrefixSpace) = PreTokenizer(root, path);
        if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind != JsonValueKind.Null && TypeOf(decoder) != "ByteLevel")
            throw new ModelLoadException(path, "decoder", $"decoder '{TypeOf(decoder)}' is not supported; expected ByteLevel");

        // The vocabulary and the added tokens, whose ids together must be 0..count-1.
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in Object(model, "vocab", path).EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new ModelLoadException(path, "model.vocab", $"token '{entry.Name}' has id {entry.Value}; expected a non-negative integer");
            if (!vocabulary.TryAdd(entry.Name, id)) throw new ModelLoadException(path, "model.vocab", $"token '{entry.Name}' appears twice");
        }
        var added = new List<(string Text, int Id, bool Special)>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
            foreach (var a in addedTokens.EnumerateArray())
            {
                string content = a.ValueKind == JsonValueKind.Object ? String(a, "content", path, "added_tokens") ?? "" : "";
                if (content.Length == 0 || !a.TryGetProperty("id", out var idElement) || !idElement.TryGetInt32(out int id) || id < 0)
                    throw new ModelLoadException(path, "added_tokens", $"an entry without a content and a non-negative id: {a}");
                added.Add((content, id, a.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True));
            }
        int count = Math.Max(vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(a => a.Id) + 1);
        if (count == 0) throw new ModelLoadException(path, "model.vocab", "the vocabulary is empty");
        if (count > 1 << 21) throw new ModelLoadException(path, "model.vocab", $"ids up to {count - 1}; no tokenizer is that large");
        var texts = new string?[count];
        var isSpecial = new bool[count];
        foreach (var (text, id) in vocabulary) texts[id] = text;
        foreach (var (text, id, special) in added)
        {
            if (texts[id] is { } other && other != text) throw new ModelLoadException(path, "added_tokens", $"id {id} is '{text}' but the vocabulary has '{other}'");
            texts[id] = text;
            isSpecial[id] = true; // printed as written, never split into bytes
        }
        foreach (char c in ByteLevelBpe.ByteToChar)
            if (!vocabulary.ContainsKey(c.ToString()))
                throw new ModelLoadException(path, "model.vocab", $"the byte token '{c}' is missing; a byte-level vocabulary has all 256");
        for (int i = 0; i < count; i++)
            if (texts[i] is null) throw new ModelLoadException(path, "model.vocab", $"id {i} has no token (the ids must run from 0 to {count - 1})");

        // Merges: "left right" strings or [left, right] pairs, by rank; each must make a token of the vocabulary.
        var merges = new Dictionary<(int, int), (int, int)>();
        int rank = 0;
        foreach (var m in Array(model, "merges", path))
        {
            string? left, right;
            if (m.ValueKind == JsonValueKind.String && m.GetString()!.Split(' ') is [var l, var r]) (left, right) = (l, r);
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                (left, right) = (m[0].GetString(), m[1].GetString());
            else throw new ModelLoadException(path, $"model.merges[{rank}]", $"expected \"left right\" or [left, right], got {m}");
            if (!vocabulary.TryGetValue(left!, out int a) || !vocabulary.TryGetValue(right!, out int b) || !vocabulary.TryGetValue(left + right, out int merged))
                throw new ModelLoadException(path, $"model.merges[{rank}]", $"'{left} {right}' merges tokens the vocabulary lacks");
            merges.TryAdd((a, b), (rank, merged));
            rank++;
        }
        bool ignoreMerges = model.TryGetProperty("ignore_merges", out var ignore) && ignore.ValueKind == JsonValueKind.True;

        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        int IdOf(string text) =>
            added.FindIndex(a => a.Text == text) is var i and >= 0 ? added[i].Id : vocabulary.TryGetValue(text, out int id) ? id : -1;
        int Special(string? named, string[] usual, string which)
        {
            foreach (string name in named is null ? usual : [named])
                if (IdOf(name) is var id and >= 0) return id;
            throw new ModelLoadException(path, "added_tokens", $"no {which} token ({(named ?? string.Join(", ", usual))}); tokenizer_config.json beside it names it");
        }
        var (bosText, eosText) = SpecialNames(Path.Combine(dir, "tokenizer_config.json"));
        int bos = Special(bosText, ["<|begin_of_text|>", "<s>", "<|endoftext|>"], "BOS");
        int eos = Special(eosText, ["<|end_of_text|>", "</s>", "<|endoftext|>"], "EOS");

        var bpe = new ByteLevelBpe(path, vocabulary, merges, [.. added.Select(a => (a.Text, a.Id))], split, ignoreMerges, addPrefixSpace, count, bos, eos);
        var pieces = new byte[count][];
        for (int i = 0; i < count; i++) pieces[i] = isSpecial[i] ? Encoding.UTF8.GetBytes(texts[i]!) : Bytes(texts[i]!);
        var stops = new List<int> { eos };
        foreach (int id in GenerationStops(Path.Combine(dir, "generation_config.json")))
            if ((uint)id < (uint)count && !stops.Contains(id)) stops.Add(id);
        // Llama 3 instruct ends a turn with <|eot_id|>, which its generation_config lists; older copies do not.
        if (IdOf("<|eot_id|>") is var eot and >= 0 && !stops.Contains(eot)) stops.Add(eot);
        return new Loaded(bpe, pieces, isSpecial, [.. stops]);
    }

    /// <summary>The bytes a byte-level token stands for: each character mapped back through GPT-2's table.</summary>
    private static byte[] Bytes(string token)
    {
        var bytes = new List<byte>(token.Length);
        foreach (char c in token)
        {
            // A table lookup, not a search: Llama 3's 128,000 tokens are mapped at every load.
            int b = c < ByteLevelBpe.CharToByte.Length ? ByteLevelBpe.CharToByte[c] : -1;
            if (b >= 0) bytes.Add((byte)b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString())); // not a byte-level character: as written
        }
        return [.. bytes];
    }

    /// <summary>The split regex (Split, behaviour Isolated) and ByteLevel's add_prefix_space.</summary>
    private static (Regex? Split, bool AddPrefixSpace) PreTokenizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind == JsonValueKind.Null)
            throw new ModelLoadException(path, "pre_tokenizer", "missing; a byte-level BPE needs its ByteLevel pre-tokenizer");
        var steps = TypeOf(pre) == "Sequence" ? Array(pre, "pretokenizers", path).ToList() : [pre];
        string? pattern = null;
        bool addPrefixSpace = false, byteLevel = false;
        foreach (var step in steps)
        {
            switch (TypeOf(step))
            {
                case "Split" when pattern is null && !byteLevel:
                    if (!step.TryGetProperty("pattern", out var p) || !p.TryGetProperty("Regex", out var regex) || regex.ValueKind != JsonValueKind.String)
                        throw new ModelLoadException(path, "pre_tokenizer", "a Split without a Regex pattern is not supported");
                    if (String(step, "behavior", path, "pre_tokenizer") is { } behavior && behavior != "Isolated")
                        throw new ModelLoadException(path, "pre_tokenizer", $"Split behavior '{behavior}' is not supported; expected Isolated");
                    if (step.TryGetProperty("invert", out var invert) && invert.ValueKind == JsonValueKind.True)
                        throw new ModelLoadException(path, "pre_tokenizer", "an inverted Split is not supported");
                    pattern = regex.GetString();
                    break;
                case "ByteLevel" when !byteLevel:
                    byteLevel = true;
                    addPrefixSpace = step.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True;
                    bool useRegex = !step.TryGetProperty("use_regex", out var use) || use.ValueKind != JsonValueKind.False;
                    if (useRegex)
                    {
                        if (pattern is not null) throw new ModelLoadException(path, "pre_tokenizer", "a Split followed by a ByteLevel that splits again is not supported");
                        pattern = Gpt2Pattern;
                    }
                    break;
                default:
                    throw new ModelLoadException(path, "pre_tokenizer", $"pre-tokenizer '{TypeOf(step)}' is not supported here; expected Split (a regex) then ByteLevel");
            }
        }
        if (!byteLevel) throw new ModelLoadException(path, "pre_tokenizer", "no ByteLevel step; only byte-level BPE is supported");
        try
        {
            // A time limit per match: a hostile pattern cannot hang encoding.
            return (pattern is null ? null : new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)), addPrefixSpace);
        }
        catch (ArgumentException e)
        {
            throw new ModelLoadException(path, "pre_tokenizer", $"the split pattern is not a .NET regular expression ({e.Message})", e);
        }
    }

    /// <summary>bos_token and eos_token of tokenizer_config.json (a string or an object with content), if the file is there.</summary>
    private static (string? Bos, string? Eos) SpecialNames(string configPath)
    {
        if (!File.Exists(configPath)) return (null, null);
        return JsonFile.Parse(JsonFile.ReadBounded(configPath, MaxBytes, "not found"), configPath, (root, _) =>
        {
            static string? Name(JsonElement root, string key) =>
                !root.TryGetProperty(key, out var v) ? null
                : v.ValueKind == JsonValueKind.String ? v.GetString()
                : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()
                : null;
            return root.ValueKind == JsonValueKind.Object ? (Name(root, "bos_token"), Name(root, "eos_token")) : (null, null);
        });
    }

    /// <summary>eos_token_id of generation_config.json (a number or a list), if the file is there.</summary>
    private static int[] GenerationStops(string configPath)
    {
        if (!File.Exists(configPath)) return [];
        return JsonFile.Parse(JsonFile.ReadBounded(configPath, 1 << 20, "not found"), configPath, (root, _) =>
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("eos_token_id", out var eos)) return System.Array.Empty<int>();
            var ids = eos.ValueKind == JsonValueKind.Array ? eos.EnumerateArray().ToList() : [eos];
            return ids.Where(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int _)).Select(e => e.GetInt32()).ToArray();
        });
    }

    private static string TypeOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : e.ValueKind.ToString();

    private static JsonElement Object(JsonElement parent, string name, string path) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object
            ? v : throw new ModelLoadException(path, name, "missing or not an object");

    private static JsonElement.ArrayEnumerator Array(JsonElement parent, string name, string path) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray() : throw new ModelLoadException(path, name, "missing or not an array");

    private static string? String(JsonElement parent, string name, string path, string field) =>
        !parent.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new ModelLoadException(path, field, $"{name} must be a string, got {v}");
}
