using FiRST.Runtime.Generation;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>One answer: a generation run whose text is cut at the stop sequences, and what it reports at the end.</summary>
internal sealed class ChatTurn
{
    private readonly GenerationRun _run;
    private readonly StopSequenceFilter _filter;

    public ChatTurn(TextGenerator generator, ChatTemplate template, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string prompt = template.Format(ChatRequest.Messages(messages, options));
        int[] tokens = PromptEncoder.Encode(generator.Tokenizer, prompt, template.SpecialTokens);
        _run = generator.Generate(tokens, ChatRequest.Generation(options, generator.Tokenizer), cancellationToken);
        _filter = new StopSequenceFilter(ChatRequest.StopSequences(options, template));
    }

    /// <summary>
    /// The answer's text as it is generated, in whole characters, without the stop sequence and what follows
    /// it. One leading space is dropped: it separates the answer from the prompt, as SentencePiece's first
    /// piece does from the start of a text. Throws <see cref="OperationCanceledException"/> once cancelled.
    /// </summary>
    public IEnumerable<string> Answer()
    {
        bool first = true;
        foreach (string piece in _run.Text())
        {
            string text = _filter.Push(piece);
            if (first && text.Length > 0)
            {
                first = false;
                if (text[0] == ' ') text = text[1..];
            }
            if (text.Length > 0) yield return text;
            // Leaving the loop ends the run (and finalises its stats): nothing after a stop sequence is generated.
            if (_filter.Stopped) yield break;
        }
        string rest = _filter.Flush();
        if (first && rest.StartsWith(' ')) rest = rest[1..];
        if (rest.Length > 0) yield return rest;
    }

    /// <summary>The run's counts and timings; final once <see cref="Answer"/> has ended.</summary>
    public GenerationStats Stats => _run.Stats;

    /// <summary>Stop for a stop token or sequence, Length for the token limit or a full context.</summary>
    public ChatFinishReason? FinishReason => _filter.Stopped ? ChatFinishReason.Stop : Stats.StopReason switch
    {
        StopReason.StopToken => ChatFinishReason.Stop,
        StopReason.MaxNewTokens or StopReason.MaxSteps or StopReason.ContextFull => ChatFinishReason.Length,
        _ => null,
    };

    /// <summary>Prompt tokens (BOS included) and generated tokens (the stop token excluded).</summary>
    public UsageDetails Usage => new()
    {
        InputTokenCount = Stats.PromptTokens,
        OutputTokenCount = Stats.GeneratedTokens,
        TotalTokenCount = Stats.PromptTokens + Stats.GeneratedTokens,
    };

    /// <summary>The FiRST details of the run, under the keys of <see cref="FiRSTChatProperties"/>.</summary>
    public AdditionalPropertiesDictionary Properties()
    {
        var stats = Stats;
        return new AdditionalPropertiesDictionary
        {
            [FiRSTChatProperties.DecodePath] = stats.DecodePath,
            [FiRSTChatProperties.PathReason] = stats.PathReason.ToString(),
            [FiRSTChatProperties.Routing] = stats.Routing?.ToString(),
            [FiRSTChatProperties.Mask] = stats.Mask,
            [FiRSTChatProperties.MsPerToken] = stats.MsPerToken,
            [FiRSTChatProperties.Speculation] = stats.Speculation?.ToString(),
            [FiRSTChatProperties.AcceptanceRate] = stats.AcceptanceRate,
            [FiRSTChatProperties.MeanExitDepth] = stats.MeanExitDepth,
        };
    }
}
