using System.Text;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>ChatML: each message between <c>&lt;|im_start|&gt;{role}</c> and <c>&lt;|im_end|&gt;</c>.</summary>
internal sealed class ChatMLChatTemplate() : ChatTemplate("ChatML", stopSequences: ["<|im_end|>"], specialTokens: ["<|im_start|>", "<|im_end|>"])
{
    public override string Format(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var prompt = new StringBuilder();
        foreach (var message in messages)
            prompt.Append("<|im_start|>").Append(message.Role.Value).Append('\n').Append(message.Text).Append("<|im_end|>\n");
        if (prompt.Length == 0) throw new ArgumentException("the conversation is empty", nameof(messages));
        return prompt.Append("<|im_start|>assistant\n").ToString();
    }
}
