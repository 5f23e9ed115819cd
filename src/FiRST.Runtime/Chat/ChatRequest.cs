using FiRST.Runtime.Generation;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>What a chat request asks of a generation run: sampling, limits and where the answer stops.</summary>
internal static class ChatRequest
{
    /// <summary>
    /// The run's options. Unset values keep <see cref="SamplerOptions"/>' defaults, the seed included, so the
    /// same request gives the same answer. The run may fill the context; it always stops at EOS (a chat turn's
    /// end) besides the tokenizer's own stop tokens.
    /// </summary>
    public static GenerationOptions Generation(ChatOptions? options, TextTokenizer tokenizer)
    {
        var sampling = new SamplerOptions();
        if (options?.Temperature is float temperature) sampling = sampling with { Temperature = temperature };
        if (options?.TopP is float topP) sampling = sampling with { TopP = topP };
        if (options?.TopK is int topK) sampling = sampling with { TopK = topK };
        // Every long is a distinct seed; a negative one wraps rather than failing.
        if (options?.Seed is long seed) sampling = sampling with { Seed = unchecked((ulong)seed) };
        sampling.Validate();

        if (options?.MaxOutputTokens is <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxOutputTokens, "MaxOutputTokens must be positive");
        return new GenerationOptions
        {
            Sampling = sampling,
            MaxSteps = 0,
            MaxNewTokens = options?.MaxOutputTokens ?? 0,
            StopTokens = tokenizer.DefaultStopTokens.Append(tokenizer.EosId).Distinct().ToArray(),
        };
    }

    /// <summary>The template's stop sequences and the request's.</summary>
    public static IReadOnlyList<string> StopSequences(ChatOptions? options, ChatTemplate template) =>
        template.StopSequences.Concat(options?.StopSequences ?? []).Where(s => !string.IsNullOrEmpty(s)).Distinct().ToArray();

    /// <summary>The conversation, with <see cref="ChatOptions.Instructions"/> as a first system message.</summary>
    public static IEnumerable<ChatMessage> Messages(IEnumerable<ChatMessage> messages, ChatOptions? options) =>
        string.IsNullOrEmpty(options?.Instructions) ? messages : messages.Prepend(new ChatMessage(ChatRole.System, options.Instructions));
}
