using System.Text;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>
/// Meta's Llama 2 chat format. The system prompt lives inside the first instruction, so every system message
/// goes there; a turn is an instruction and the answer to it, closed by EOS and reopened by BOS.
/// </summary>
internal sealed class Llama2ChatTemplate() : ChatTemplate("Llama2", stopSequences: ["</s>"], specialTokens: ["<s>", "</s>"])
{
    public override string Format(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var system = new List<string>();
        var turns = new List<(StringBuilder User, StringBuilder Assistant)>();
        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System) { system.Add(message.Text); continue; }
            // A user message after an answer opens the next turn; consecutive messages of one role are joined.
            if (turns.Count == 0 || (message.Role == ChatRole.User && turns[^1].Assistant.Length > 0))
                turns.Add((new StringBuilder(), new StringBuilder()));
            var part = message.Role == ChatRole.User ? turns[^1].User
                     : message.Role == ChatRole.Assistant ? turns[^1].Assistant
                     : throw new NotSupportedException($"Llama 2's chat format has no role '{message.Role}'");
            if (part.Length > 0) part.Append('\n');
            part.Append(message.Text);
        }
        if (turns.Count == 0) throw new ArgumentException("the conversation has no user message", nameof(messages));

        var prompt = new StringBuilder();
        for (int i = 0; i < turns.Count; i++)
        {
            // The first BOS is the one the client puts before every prompt.
            if (i > 0) prompt.Append("<s>");
            prompt.Append("[INST] ");
            if (i == 0 && system.Count > 0) prompt.Append("<<SYS>>\n").AppendJoin('\n', system).Append("\n<</SYS>>\n\n");
            prompt.Append(turns[i].User).Append(" [/INST]");
            if (turns[i].Assistant.Length > 0) prompt.Append(' ').Append(turns[i].Assistant).Append(" </s>");
        }
        return prompt.ToString();
    }
}
