using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Tokenization;

/// <summary>
/// The SentencePiece BPE vocabulary a GGUF file carries in its <c>tokenizer.ggml.*</c> metadata (model
/// <c>llama</c>): pieces with '▁' for spaces, scores, and piece types numbered as SentencePiece numbers them,
/// which llama.cpp's converter copies from <c>tokenizer.model</c>. Only the metadata is read; the weights of a
/// multi-gigabyte file stay unmapped pages.
/// </summary>
internal static class GgufVocabulary
{
    private const string Prefix = "tokenizer.ggml.";

    public static SentencePieceVocabulary Read(string path)
    {
        using var file = GgufFile.Open(path);
        string model = file.OptionalString(Prefix + "model") ?? throw new ModelLoadException(path, Prefix + "model", "missing: the file carries no tokenizer; pass one");
        if (model != "llama")
            throw new ModelLoadException(path, Prefix + "model", $"'{(model.Length <= 40 ? model : model[..40] + "…")}' is not supported; expected 'llama' (SentencePiece); for a byte-level ('gpt2') vocabulary pass its tokenizer.json");

        string[] pieces = Required<string>(file, "tokens");
        double[] scores = Required<double>(file, "scores");
        long[] types = Required<long>(file, "token_type");
        if (pieces.Length < 3) throw new ModelLoadException(path, Prefix + "tokens", $"only {pieces.Length} tokens; expected at least <unk>, <s> and </s>");
        foreach (var (name, length) in new[] { ("scores", scores.Length), ("token_type", types.Length) })
            if (length != pieces.Length) throw new ModelLoadException(path, Prefix + name, $"{length} entries for {pieces.Length} tokens");

        var floatScores = new float[pieces.Length];
        var pieceTypes = new PieceType[pieces.Length];
        for (int i = 0; i < pieces.Length; i++)
        {
            if (!float.IsFinite((float)scores[i])) throw new ModelLoadException(path, Prefix + "scores", $"token {i}: score {scores[i]}; expected a finite number");
            floatScores[i] = (float)scores[i];
            if (types[i] is < (long)PieceType.Normal or > (long)PieceType.Byte)
                throw new ModelLoadException(path, Prefix + "token_type", $"token {i}: type {types[i]}; expected 1 to 6 (SentencePiece's normal to byte)");
            pieceTypes[i] = (PieceType)types[i];
        }
        // llama.cpp's defaults for a SentencePiece vocabulary when the ids are absent.
        return new SentencePieceVocabulary(path, pieces, floatScores, pieceTypes,
            unkId: file.OptionalInt(Prefix + "unknown_token_id") ?? 0,
            bosId: file.OptionalInt(Prefix + "bos_token_id") ?? 1,
            eosId: file.OptionalInt(Prefix + "eos_token_id") ?? 2,
            byteFallback: true,
            addDummyPrefix: file.OptionalBool(Prefix + "add_space_prefix") ?? true,
            removeExtraWhitespaces: file.OptionalBool(Prefix + "remove_extra_whitespaces") ?? false);
    }

    private static T[] Required<T>(GgufFile file, string name) =>
        file.OptionalArray<T>(Prefix + name) ?? throw new ModelLoadException(file.Path, Prefix + name, "missing");
}
