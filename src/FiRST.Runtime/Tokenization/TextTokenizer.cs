using System.Text;
using Microsoft.ML.Tokenizers;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// A Llama (SentencePiece BPE) tokenizer, loaded from a SentencePiece <c>tokenizer.model</c> or a llama2.c
/// tokenizer <c>.bin</c>. Both become a Microsoft.ML.Tokenizers <see cref="LlamaTokenizer"/>, so they encode
/// identically; decoding follows llama2.c (per-token bytes, leading space dropped after BOS).
/// Immutable and thread-safe.
/// </summary>
public sealed class TextTokenizer
{
    private readonly LlamaTokenizer _inner;
    private readonly byte[][] _pieces;
    private readonly byte[]?[] _afterBos;
    private readonly int[] _stopTokens;

    private TextTokenizer(string path, LlamaTokenizer inner, byte[][] pieces, bool[] isByteToken, int[] stopTokens)
    {
        Path = path;
        _inner = inner;
        _pieces = pieces;
        _stopTokens = stopTokens;
        // The first piece after BOS loses its leading space (SentencePiece's dummy prefix); precomputed so
        // streaming a token never allocates. A byte token for ' ' (<0x20>) is not a piece with a leading
        // space: llama2.c keeps it.
        _afterBos = new byte[]?[pieces.Length];
        for (int i = 0; i < pieces.Length; i++)
            if (!isByteToken[i] && pieces[i] is [(byte)' ', ..]) _afterBos[i] = pieces[i][1..];
    }

    /// <summary>The file the tokenizer was loaded from.</summary>
    public string Path { get; }

    /// <summary>Number of tokens in the vocabulary.</summary>
    public int VocabSize => _pieces.Length;

    /// <summary>Beginning-of-sequence token id.</summary>
    public int BosId => _inner.BeginningOfSentenceId;

    /// <summary>End-of-sequence token id.</summary>
    public int EosId => _inner.EndOfSentenceId;

    /// <summary>
    /// Tokens that end generation by default: BOS for llama2.c files (its models separate documents with BOS,
    /// and <c>run.c</c> stops on it), EOS for SentencePiece models.
    /// </summary>
    public IReadOnlyList<int> DefaultStopTokens => _stopTokens;

    /// <summary>The Microsoft.ML.Tokenizers tokenizer underneath.</summary>
    internal LlamaTokenizer Inner => _inner;

    /// <summary>Loads <paramref name="path"/>: a SentencePiece <c>.model</c>, or otherwise a llama2.c tokenizer <c>.bin</c>.</summary>
    /// <exception cref="ModelLoadException">The file is missing or is not a valid tokenizer.</exception>
    public static TextTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
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

        bool sentencePiece = path.EndsWith(".model", StringComparison.OrdinalIgnoreCase);
        if (sentencePiece)
        {
            var inner = Create(path, data);
            var pieces = new byte[inner.Vocabulary.Count][];
            var isByte = new bool[pieces.Length];
            foreach (var (piece, id) in inner.Vocabulary)
            {
                if ((uint)id >= (uint)pieces.Length) throw new ModelLoadException(path, "pieces", $"token id {id} outside the vocabulary");
                int b = id == inner.BeginningOfSentenceId || id == inner.EndOfSentenceId ? -1 : Llama2cTokenizerFile.ByteValue(Encoding.UTF8.GetBytes(piece));
                isByte[id] = b >= 0;
                pieces[id] = id == inner.BeginningOfSentenceId || id == inner.EndOfSentenceId ? []
                           : b >= 0 ? [(byte)b]
                           : Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
            }
            return new TextTokenizer(path, inner, pieces, isByte, [inner.EndOfSentenceId]);
        }
        else
        {
            var entries = Llama2cTokenizerFile.Read(path, data);
            var inner = Create(path, Llama2cTokenizerFile.ToSentencePieceModel(path, entries));
            // Pieces keep llama2.c's bytes, so BOS and EOS print as "\n<s>\n" and "\n</s>\n" as in run.c.
            var pieces = new byte[entries.Length][];
            var isByte = new bool[entries.Length];
            for (int i = 0; i < entries.Length; i++)
            {
                int b = Llama2cTokenizerFile.ByteValue(entries[i].Bytes);
                isByte[i] = b >= 0;
                pieces[i] = b >= 0 ? [(byte)b] : entries[i].Bytes;
            }
            return new TextTokenizer(path, inner, pieces, isByte, [inner.BeginningOfSentenceId]);
        }
    }

    private static LlamaTokenizer Create(string path, byte[] model)
    {
        try
        {
            return LlamaTokenizer.Create(new MemoryStream(model), addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not ModelLoadException)
        {
            // Microsoft.ML.Tokenizers reports corrupt protobuf, unsupported model types and duplicate pieces
            // with several exception types; callers get one.
            throw new ModelLoadException(path, "", $"not a valid SentencePiece BPE model ({e.GetType().Name}: {e.Message})", e);
        }
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
        var ids = _inner.EncodeToIds(text, addBos, addEndOfSentence: false);
        var result = new int[ids.Count];
        for (int i = 0; i < result.Length; i++) result[i] = ids[i];
        return result;
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
    /// leading space of the first piece after BOS dropped.
    /// </summary>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new List<byte>();
        int previous = -1;
        foreach (int t in tokens)
        {
            if (t != BosId && t != EosId) bytes.AddRange(PieceBytes(t, previous).Span);
            previous = t;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
