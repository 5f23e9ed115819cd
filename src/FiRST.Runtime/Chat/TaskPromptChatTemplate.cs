using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>
/// The last user message as is. A task model answers one prompt and was never trained on a dialogue, so
/// anything else in the conversation would only be continued as text (and would not fit the demo model's
/// 48-token context).
/// </summary>
internal sealed class TaskPromptChatTemplate() : ChatTemplate("TaskPrompt")
{
    public override string Format(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text
            ?? throw new ArgumentException("the conversation has no user message", nameof(messages));
    }
}
