namespace FiRST.Runtime.Tokenization;

/// <summary>
/// A vocabulary and its encoder, as <see cref="TextTokenizer"/> uses them: SentencePiece BPE (Llama 1 and 2,
/// <see cref="SentencePieceVocabulary"/>) or byte-level BPE from a Hugging Face <c>tokenizer.json</c> (Llama 3,
/// <see cref="ByteLevelBpe"/>).
/// </summary>
internal interface ITokenizerModel
{
    /// <summary>Number of ids.</summary>
    int Count { get; }

    /// <summary>Beginning of sequence.</summary>
    int BosId { get; }

    /// <summary>End of sequence.</summary>
    int EosId { get; }

    /// <summary>
    /// True when encoding puts a space before the text (SentencePiece's dummy prefix), so decoding drops the
    /// first piece's leading space.
    /// </summary>
    bool AddsDummyPrefix { get; }

    /// <summary>Appends the ids of <paramref name="text"/> (no BOS) to <paramref name="ids"/>.</summary>
    void Encode(string text, List<int> ids);

    /// <summary>The id of a piece as the vocabulary spells it (special tokens included).</summary>
    bool TryGetPiece(string piece, out int id);
}
