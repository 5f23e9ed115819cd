using FiRST.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>
/// How a conversation becomes the prompt a model was trained on, and the text that ends the model's turn.
/// Four are built in (<see cref="Llama2"/>, <see cref="Zephyr"/>, <see cref="ChatML"/>, <see cref="TaskPrompt"/>);
/// derive from this class for another model's format. Implementations are immutable and thread-safe.
/// </summary>
/// <remarks>
/// A formatted prompt never starts with the beginning-of-sequence token: the client always puts BOS first,
/// as <see cref="Generation.GenerationOptions.AddBos"/> does for a plain prompt, so writing it here as well
/// would give the model two.
/// </remarks>
public abstract class ChatTemplate
{
    /// <summary>Creates a template.</summary>
    /// <param name="name">A name for logs and <see cref="ToString"/>.</param>
    /// <param name="stopSequences">Text that ends the model's turn when generated (not included in the answer).</param>
    /// <param name="specialTokens">
    /// Markup that the model's vocabulary holds as single tokens (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>,
    /// <c>&lt;|im_start|&gt;</c>): each occurrence in the formatted prompt is encoded as that token's id where the
    /// vocabulary has it, and as plain text where it does not.
    /// </param>
    protected ChatTemplate(string name, IEnumerable<string>? stopSequences = null, IEnumerable<string>? specialTokens = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        StopSequences = (stopSequences ?? []).Where(s => !string.IsNullOrEmpty(s)).ToArray();
        SpecialTokens = (specialTokens ?? []).Where(s => !string.IsNullOrEmpty(s)).ToArray();
    }

    /// <summary>The template's name.</summary>
    public string Name { get; }

    /// <summary>Text that ends the model's turn when generated; the answer stops before it.</summary>
    public IReadOnlyList<string> StopSequences { get; }

    /// <summary>Markup encoded as single token ids where the vocabulary has them (see the constructor).</summary>
    public IReadOnlyList<string> SpecialTokens { get; }

    /// <summary>
    /// The prompt for <paramref name="messages"/>, ending where the assistant's answer begins.
    /// </summary>
    /// <exception cref="ArgumentException">The conversation has nothing the template can prompt with.</exception>
    /// <exception cref="NotSupportedException">A message has a role the template has no markup for.</exception>
    public abstract string Format(IEnumerable<ChatMessage> messages);

    /// <summary>
    /// Llama 2 chat: <c>[INST] &lt;&lt;SYS&gt;&gt;\n{system}\n&lt;&lt;/SYS&gt;&gt;\n\n{user} [/INST] {assistant} &lt;/s&gt;&lt;s&gt;[INST] {user} [/INST]</c>.
    /// Every system message goes into the first instruction; consecutive messages of one role are joined by a newline.
    /// </summary>
    public static ChatTemplate Llama2 { get; } = new Llama2ChatTemplate();

    /// <summary>
    /// Zephyr, as TinyLlama's chat models use it: <c>&lt;|{role}|&gt;\n{text}&lt;/s&gt;\n</c> per message, then <c>&lt;|assistant|&gt;\n</c>.
    /// </summary>
    public static ChatTemplate Zephyr { get; } = new ZephyrChatTemplate();

    /// <summary>
    /// ChatML: <c>&lt;|im_start|&gt;{role}\n{text}&lt;|im_end|&gt;\n</c> per message, then <c>&lt;|im_start|&gt;assistant\n</c>;
    /// the turn ends at <c>&lt;|im_end|&gt;</c>.
    /// </summary>
    public static ChatTemplate ChatML { get; } = new ChatMLChatTemplate();

    /// <summary>
    /// The last user message's text, as is (<c>copy abc =&gt;</c>), for models that complete one prompt and hold no
    /// dialogue: the demo model's tasks and llama2.c's story models. System messages and earlier turns are
    /// left out, because such a model was never shown them and would continue them as text.
    /// </summary>
    public static ChatTemplate TaskPrompt { get; } = new TaskPromptChatTemplate();

    /// <summary>
    /// The template a tokenizer's vocabulary implies: <see cref="ChatML"/> when <c>&lt;|im_start|&gt;</c> is one token,
    /// else <see cref="Zephyr"/> when <c>&lt;|user|&gt;</c> is, else <see cref="Llama2"/> for Llama 2's vocabulary of
    /// 32000, else <see cref="TaskPrompt"/>.
    /// </summary>
    /// <remarks>
    /// The vocabulary is all a model file tells about its training format, so models that share one are told
    /// apart only by passing a template: TinyLlama's chat models (Zephyr markup over Llama 2's vocabulary) need
    /// <see cref="Zephyr"/>, and llama2.c's story models (also Llama 2's vocabulary) need <see cref="TaskPrompt"/>.
    /// </remarks>
    public static ChatTemplate For(TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.PieceId("<|im_start|>") >= 0) return ChatML;
        if (tokenizer.PieceId("<|user|>") >= 0) return Zephyr;
        if (tokenizer.VocabSize == Llama2VocabSize) return Llama2;
        return TaskPrompt;
    }

    private const int Llama2VocabSize = 32000;

    /// <summary>The template's name.</summary>
    public override string ToString() => Name;
}
