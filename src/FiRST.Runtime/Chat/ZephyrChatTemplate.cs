using System.Text;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>Zephyr's format (TinyLlama chat): each message under its role's tag, closed by EOS.</summary>
internal sealed class ZephyrChatTemplate() : ChatTemplate("Zephyr", stopSequences: ["</s>"], specialTokens: ["</s>"])
{
    public override string Format(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var prompt = new StringBuilder();
        foreach (var message in messages)
            prompt.Append("<|").Append(message.Role.Value).Append("|>\n").Append(message.Text).Append("</s>\n");
        if (prompt.Length == 0) throw new ArgumentException("the conversation is empty", nameof(messages));
        return prompt.Append("<|assistant|>\n").ToString();
    }
}
