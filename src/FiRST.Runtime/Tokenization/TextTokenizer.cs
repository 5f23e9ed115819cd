using System.Text;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// A Llama tokenizer: SentencePiece BPE (Llama 1 and 2) from a <c>tokenizer.model</c> or a llama2.c tokenizer
/// <c>.bin</c>, which encode identically, as SentencePiece and llama2.c's <c>encode</c> do; or byte-level BPE
/// (Llama 3) from a Hugging Face <c>tokenizer.json</c>. Decoding follows llama2.c (per-token bytes, and for
/// SentencePiece the dummy-prefix space dropped after BOS). Pure C#, with no reflection: it runs the same under
/// NativeAOT. Immutable and thread-safe.
/// </summary>
public sealed class TextTokenizer
{
    private readonly ITokenizerModel _vocabulary;
    private readonly byte[][] _pieces;
    private readonly byte[]?[] _afterBos;
    private readonly int[] _stopTokens;

    private TextTokenizer(string path, ITokenizerModel vocabulary, byte[][] pieces, bool[] noPrefix, int[] stopTokens)
    {
        Path = path;
        _vocabulary = vocabulary;
        _pieces = pieces;
        _stopTokens = stopTokens;
        // The first piece after BOS loses its leading space (SentencePiece's dummy prefix); precomputed so
        // streaming a token never allocates. A byte token for ' ' (<0x20>) is not a piece with a leading
        // space: llama2.c keeps it. Byte-level BPE adds no prefix, so it drops nothing.
        _afterBos = new byte[]?[pieces.Length];
        if (vocabulary.AddsDummyPrefix)
            for (int i = 0; i < pieces.Length; i++)
                if (!noPrefix[i] && pieces[i] is [(byte)' ', ..]) _afterBos[i] = pieces[i][1..];
    }

    /// <summary>
    /// False in a build that sets the feature switch <c>FiRST.Runtime.Tokenization.TokenizerJson.IsSupported</c> to
    /// false (a one-task build whose tokenizer is not a tokenizer.json): the trimmer then drops the tokenizer.json
    /// reader and the regular-expression engine it needs, about a megabyte of a NativeAOT executable.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.FeatureSwitchDefinition(TokenizerJsonSwitch)]
    internal static bool TokenizerJsonSupported { get; } = !AppContext.TryGetSwitch(TokenizerJsonSwitch, out bool on) || on;

    internal const string TokenizerJsonSwitch = "FiRST.Runtime.Tokenization.TokenizerJson.IsSupported";

    /// <summary>The file the tokenizer was loaded from.</summary>
    public string Path { get; }

    /// <summary>Number of tokens in the vocabulary.</summary>
    public int VocabSize => _pieces.Length;

    /// <summary>Beginning-of-sequence token id.</summary>
    public int BosId => _vocabulary.BosId;

    /// <summary>End-of-sequence token id.</summary>
    public int EosId => _vocabulary.EosId;

    /// <summary>
    /// Tokens that end generation by default: BOS for llama2.c files (its models separate documents with BOS,
    /// and <c>run.c</c> stops on it), EOS for SentencePiece models.
    /// </summary>
    public IReadOnlyList<int> DefaultStopTokens => _stopTokens;

    /// <summary>The id of a piece as the vocabulary spells it (special tokens included), or -1.</summary>
    /// <summary>The SentencePiece vocabulary behind this tokenizer (a GGUF file can carry it); null for byte-level BPE.</summary>
    internal SentencePieceVocabulary? SentencePiece => _vocabulary as SentencePieceVocabulary;

    internal int PieceId(string piece) => _vocabulary.TryGetPiece(piece, out int id) ? id : -1;

    /// <summary>
    /// Loads <paramref name="path"/>: a SentencePiece <c>.model</c>, a Hugging Face <c>tokenizer.json</c> (byte-level
    /// BPE; BOS and EOS from <c>tokenizer_config.json</c> and the stop tokens from <c>generation_config.json</c>
    /// beside it), a llama.cpp <c>.gguf</c> model (its <c>tokenizer.ggml.*</c> SentencePiece vocabulary), or
    /// otherwise a llama2.c tokenizer <c>.bin</c>.
    /// </summary>
    /// <exception cref="ModelLoadException">The file is missing or is not a valid tokenizer.</exception>
    public static TextTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (!TokenizerJsonSupported)
                throw new ModelLoadException(path, "", $"this build was trimmed without tokenizer.json support ({TokenizerJsonSwitch} is false)");
            var json = TokenizerJsonFile.Read(path);
            return new TextTokenizer(path, json.Model, json.Pieces, json.IsSpecial, json.StopTokens);
        }
        // A GGUF model carries its vocabulary in its metadata; only that part of the file is read.
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || Loading.GgufFile.HasMagic(path))
            return FromSentencePiece(path, GgufVocabulary.Read(path));
        byte[] data;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ModelLoadException(path, "", "tokenizer file not found");
            if (info.Length > 256L << 20) throw new ModelLoadException(path, "", $"file is {info.Length} bytes; no tokenizer is that large");
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, "", $"cannot read the tokenizer ({e.Message})", e);
        }

        if (path.EndsWith(".model", StringComparison.OrdinalIgnoreCase))
            return FromSentencePiece(path, SentencePieceModelFile.Read(path, data));
        else
        {
            var entries = Llama2cTokenizerFile.Read(path, data);
            var vocabulary = Llama2cTokenizerFile.ToVocabulary(path, entries);
            // Pieces keep llama2.c's bytes, so BOS and EOS print as "\n<s>\n" and "\n</s>\n" as in run.c.
            var pieces = new byte[entries.Length][];
            var isByte = new bool[entries.Length];
            for (int i = 0; i < entries.Length; i++)
            {
                int b = Llama2cTokenizerFile.ByteValue(entries[i].Bytes);
                pieces[i] = b >= 0 ? [(byte)b] : entries[i].Bytes;
                isByte[i] = b >= 0;
            }
            return new TextTokenizer(path, vocabulary, pieces, isByte, [vocabulary.BosId]);
        }
    }

    /// <summary>
    /// A SentencePiece vocabulary's tokenizer: pieces decode with '▁' as a space, byte pieces as their byte, BOS and
    /// EOS as nothing; generation stops at EOS.
    /// </summary>
    private static TextTokenizer FromSentencePiece(string path, SentencePieceVocabulary vocabulary)
    {
        var pieces = new byte[vocabulary.Count][];
        var isByte = new bool[vocabulary.Count];
        for (int id = 0; id < pieces.Length; id++)
        {
            string piece = vocabulary.Pieces[id];
            pieces[id] = id == vocabulary.BosId || id == vocabulary.EosId ? []
                       : vocabulary.Types[id] == PieceType.Byte ? [(byte)Llama2cTokenizerFile.ByteValue(Encoding.UTF8.GetBytes(piece))]
                       : Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
            isByte[id] = vocabulary.Types[id] == PieceType.Byte;
        }
        return new TextTokenizer(path, vocabulary, pieces, isByte, [vocabulary.EosId]);
    }

    /// <summary>
    /// Checks that this tokenizer belongs to <paramref name="model"/>: the same number of tokens as its
    /// <c>vocab_size</c>. A tokenizer with more tokens would feed ids the model has no embedding for; one
    /// with fewer (another model's, or a file cut short at an entry boundary) cannot decode every id the model
    /// predicts, and its ids mean other words.
    /// </summary>
    /// <exception cref="FiRSTException">The sizes differ; the message names both files.</exception>
    public void EnsureFits(LlamaModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (VocabSize != model.Config.VocabSize)
            throw new FiRSTException($"the tokenizer {Path} has {VocabSize} tokens but the model {model.Path} has a vocabulary of {model.Config.VocabSize}: they do not belong together");
    }

    /// <summary>
    /// Encodes <paramref name="text"/>. A non-empty text gets SentencePiece's dummy-prefix space, as in llama2.c;
    /// with <paramref name="addBos"/> the BOS id comes first (also for an empty text).
    /// </summary>
    public int[] Encode(string text, bool addBos = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return addBos ? [BosId] : [];
        var ids = new List<int>(text.Length + 1);
        if (addBos) ids.Add(BosId);
        _vocabulary.Encode(text, ids);
        return [.. ids];
    }

    /// <summary>
    /// The bytes token <paramref name="token"/> adds to the text when it follows <paramref name="previous"/>:
    /// byte tokens are the raw byte, and the first piece after BOS loses its leading space. Allocation-free.
    /// </summary>
    public ReadOnlyMemory<byte> PieceBytes(int token, int previous)
    {
        if ((uint)token >= (uint)_pieces.Length) return ReadOnlyMemory<byte>.Empty;
        if (previous == BosId && _afterBos[token] is { } stripped) return stripped;
        return _pieces[token];
    }

    /// <summary>
    /// Decodes a token sequence to text: byte tokens joined into characters, BOS and EOS left out, and the
    /// leading space of the sequence's first piece dropped, BOS or not, as SentencePiece decodes (that space is
    /// the dummy prefix encoding added). Streaming uses <see cref="PieceBytes"/>, which drops it only after BOS.
    /// </summary>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new List<byte>();
        int previous = BosId; // the start of a sequence reads as "after BOS" (which drops only a dummy prefix)
        foreach (int t in tokens)
        {
            if (t != BosId && t != EosId) bytes.AddRange(PieceBytes(t, previous).Span);
            previous = t;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
