using System.Runtime.CompilerServices;
using System.Text;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace FiRST.Runtime.Chat;

/// <summary>
/// An <see cref="IChatClient"/> over a <see cref="TextGenerator"/>: each request formats the conversation
/// with a <see cref="ChatTemplate"/> and generates the assistant's answer in process, with the generator's
/// routers, decode paths and speculation. Thread-safe, as the generator is: each request runs its own session.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="ChatOptions"/>: <see cref="ChatOptions.Temperature"/>, <see cref="ChatOptions.TopP"/>,
/// <see cref="ChatOptions.TopK"/> and <see cref="ChatOptions.Seed"/> set the sampler (unset ones keep
/// <see cref="Sampling.SamplerOptions"/>' defaults, the fixed seed included, so a request repeated gives the same
/// answer; pass a seed for another). <see cref="ChatOptions.MaxOutputTokens"/> limits the generated tokens
/// (unset: up to the context), <see cref="ChatOptions.StopSequences"/> end the answer before the sequence,
/// and <see cref="ChatOptions.Instructions"/> is a first system message. Tools, penalties, response formats
/// and the model id are not supported and are ignored.
/// </para>
/// <para>
/// The response carries <see cref="ChatResponse.Usage"/> (prompt tokens with BOS, generated tokens),
/// <see cref="ChatResponse.FinishReason"/>, the model file's name as <see cref="ChatResponse.ModelId"/>, the
/// run's <see cref="GenerationStats"/> as <see cref="ChatResponse.RawRepresentation"/>, and the decode path,
/// mask and speed under the keys of <see cref="FiRSTChatProperties"/>. A stream's last update carries the same.
/// </para>
/// <para>The answer's leading space (the one separating it from the prompt) is dropped.</para>
/// </remarks>
/// <example>
/// <code>
/// using var model = LlamaModel.Load("models/demo/model.bin");
/// var generator = new TextGenerator(model, TextTokenizer.Load("models/demo/tokenizer.bin"));
/// IChatClient client = new FiRSTChatClient(generator);
/// var response = await client.GetResponseAsync("sort 5 3 9 1 =&gt;", new ChatOptions { Temperature = 0 });
/// Console.WriteLine(response.Text); // 1 3 5 9
/// </code>
/// </example>
public sealed class FiRSTChatClient : IChatClient
{
    /// <summary>The provider name in <see cref="Metadata"/>.</summary>
    public const string ProviderName = "FiRST";

    /// <summary>Creates a client. It does not own <paramref name="generator"/> or its model: dispose the model yourself.</summary>
    /// <param name="generator">The model and tokenizer that answer.</param>
    /// <param name="template">The prompt format; null chooses it from the vocabulary (<see cref="ChatTemplate.For"/>).</param>
    public FiRSTChatClient(TextGenerator generator, ChatTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        Generator = generator;
        Template = template ?? ChatTemplate.For(generator.Tokenizer);
        Metadata = new ChatClientMetadata(ProviderName, providerUri: null, defaultModelId: Path.GetFileName(generator.Model.Path));
    }

    /// <summary>The generator that answers.</summary>
    public TextGenerator Generator { get; }

    /// <summary>The prompt format.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The provider (<c>FiRST</c>) and the model file's name as the model id.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <summary>Generates the whole answer, off the caller's context.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked every token).</exception>
    /// <exception cref="PromptTooLongException">The formatted conversation does not fit the model's context.</exception>
    /// <exception cref="ArgumentException">The conversation has no message the template can prompt with.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (negative temperature, non-positive MaxOutputTokens).</exception>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var turn = new ChatTurn(Generator, Template, messages, options, cancellationToken);
        // Generation is CPU-bound: leave the caller's context (a UI thread, say) before it starts.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);

        var answer = new StringBuilder();
        foreach (string text in turn.Answer()) answer.Append(text);
        string id = NewId();
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, answer.ToString()) { MessageId = id })
        {
            ResponseId = id,
            ModelId = Metadata.DefaultModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = turn.FinishReason,
            Usage = turn.Usage,
            AdditionalProperties = turn.Properties(),
            RawRepresentation = turn.Stats,
        };
    }

    /// <summary>
    /// Streams the answer: one update per piece of text (whole characters), then a last update with the finish
    /// reason, a <see cref="UsageContent"/> and the run's details.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked every token).</exception>
    /// <exception cref="PromptTooLongException">The formatted conversation does not fit the model's context.</exception>
    /// <exception cref="ArgumentException">The conversation has no message the template can prompt with.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (negative temperature, non-positive MaxOutputTokens).</exception>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
                                                                               [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var turn = new ChatTurn(Generator, Template, messages, options, cancellationToken);
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);

        string id = NewId();
        foreach (string text in turn.Answer())
            yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = id, MessageId = id, ModelId = Metadata.DefaultModelId };
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(turn.Usage)])
        {
            ResponseId = id,
            MessageId = id,
            ModelId = Metadata.DefaultModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = turn.FinishReason,
            AdditionalProperties = turn.Properties(),
            RawRepresentation = turn.Stats,
        };
    }

    /// <summary>
    /// This client for its own type (or a base), <see cref="Metadata"/> for <see cref="ChatClientMetadata"/>,
    /// and the <see cref="TextGenerator"/>, <see cref="LlamaModel"/>, <see cref="TextTokenizer"/> or
    /// <see cref="ChatTemplate"/> it uses; null for anything else or any key.
    /// </summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        foreach (object service in new object[] { this, Generator, Generator.Model, Generator.Tokenizer, Template })
            if (serviceType.IsInstanceOfType(service)) return service;
        return null;
    }

    /// <summary>Does nothing: the client owns neither the generator nor its model.</summary>
    public void Dispose()
    {
    }

    private static string NewId() => Guid.NewGuid().ToString("N");
}
