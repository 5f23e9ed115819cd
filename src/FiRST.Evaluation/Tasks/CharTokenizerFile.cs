using System.Text;

namespace FiRST.Evaluation.Tasks;

/// <summary>
/// Writes the embedded model's vocabulary as a llama2.c tokenizer file, which the runtime's
/// <c>TextTokenizer</c> loads: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte
/// tokens, then one piece per character of the tasks' alphabet. Single characters only, no merges: the
/// tasks are about characters, and a tiny vocabulary keeps the model small.
/// </summary>
public static class CharTokenizerFile
{
    /// <summary>Every character a task prompt or answer uses; a space becomes SentencePiece's '▁' piece.</summary>
    public const string Alphabet = " abcdefghijklmnopqrstuvwxyz0123456789+=>";

    /// <summary>Tokens in the vocabulary.</summary>
    public static int VocabSize => 3 + 256 + Alphabet.Length;

    /// <summary>Writes the file.</summary>
    public static void Write(string path)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(6); // max_token_length: "<0xFF>"
        void Piece(string text, float score)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            w.Write(score);
            w.Write(bytes.Length);
            w.Write(bytes);
        }
        Piece("<unk>", 0);
        Piece("\n<s>\n", 0);
        Piece("\n</s>\n", 0);
        for (int b = 0; b < 256; b++) Piece($"<0x{b:X2}>", 0);
        // Distinct scores keep SentencePiece's merge order well defined, though no piece is longer than one character.
        for (int i = 0; i < Alphabet.Length; i++) Piece(Alphabet[i].ToString(), -i);
    }
}
