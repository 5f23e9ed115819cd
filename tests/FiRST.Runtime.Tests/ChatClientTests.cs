using FiRST.Runtime.Chat;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Microsoft.Extensions.AI;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// <see cref="FiRSTChatClient"/> on the embedded demo model, used as any <see cref="IChatClient"/> is: answers,
/// streams, options, stop sequences, cancellation and the FiRST details of each run; and the chat templates'
/// exact prompts.
/// </summary>
public sealed class ChatClientTests : IDisposable
{
    private const string Sort = "sort 5 3 9 1 =>";
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "demo");
    private static readonly ChatOptions Greedy = new() { Temperature = 0 };

    private readonly LlamaModel _model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
    private readonly TextTokenizer _tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
    private readonly TextGenerator _generator;
    private readonly FiRSTChatClient _client;

    public ChatClientTests()
    {
        _generator = new TextGenerator(_model, _tokenizer, new SessionOptions { Threads = 1 });
        _client = new FiRSTChatClient(_generator);
    }

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task A_task_prompt_gets_its_answer_with_the_runs_usage_and_details()
    {
        IChatClient client = _client;
        var response = await client.GetResponseAsync(Sort, Greedy);

        Assert.Equal("1 3 5 9", response.Text);
        var message = Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, message.Role);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("model.bin", response.ModelId);
        Assert.Same(ChatTemplate.TaskPrompt, _client.Template);

        // The same run through the generator: EOS ends it, and the counts are the client's usage.
        var run = _generator.Generate(Sort, new GenerationOptions { Sampling = new() { Temperature = 0 }, MaxSteps = 0, StopTokens = [_tokenizer.BosId, _tokenizer.EosId] });
        Assert.Equal(" 1 3 5 9", string.Concat(run.Text()));
        Assert.Equal(run.Stats.PromptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(run.Stats.GeneratedTokens, response.Usage.OutputTokenCount);
        Assert.Equal(run.Stats.PromptTokens + run.Stats.GeneratedTokens, response.Usage.TotalTokenCount);
        Assert.Equal(StopReason.StopToken, run.Stats.StopReason);

        var stats = Assert.IsType<GenerationStats>(response.RawRepresentation);
        var properties = response.AdditionalProperties!;
        Assert.Equal("generic", properties[FiRSTChatProperties.DecodePath]);
        Assert.Equal(stats.PathReason.ToString(), properties[FiRSTChatProperties.PathReason]);
        Assert.Null(properties[FiRSTChatProperties.Routing]);
        Assert.Equal("11111111", properties[FiRSTChatProperties.Mask]);
        Assert.Equal(stats.MsPerToken, Assert.IsType<double>(properties[FiRSTChatProperties.MsPerToken]));
        Assert.Null(properties[FiRSTChatProperties.Speculation]);
        Assert.Equal(0.0, Assert.IsType<double>(properties[FiRSTChatProperties.AcceptanceRate]));
        Assert.Equal(8.0, Assert.IsType<double>(properties[FiRSTChatProperties.MeanExitDepth]));
    }

    [Theory]
    [InlineData("copy kqz1 =>", "kqz1")]
    [InlineData("reverse hello =>", "olleh")]
    [InlineData("1234+5678=", "6912")]
    public async Task Streaming_gives_the_same_text_and_ends_with_the_finish_reason_usage_and_details(string prompt, string expected)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in _client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, prompt)], Greedy)) updates.Add(update);
        var response = await _client.GetResponseAsync(prompt, Greedy);

        Assert.Equal(expected, response.Text);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count > 2, "one update per piece of text, then the last");
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.All(updates[..^1], u => Assert.Null(u.FinishReason));

        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Stop, last.FinishReason);
        var usage = Assert.IsType<UsageContent>(Assert.Single(last.Contents)).Details;
        Assert.Equal(response.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(response.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(response.Usage.TotalTokenCount, usage.TotalTokenCount);
        Assert.Equal(response.AdditionalProperties![FiRSTChatProperties.DecodePath], last.AdditionalProperties![FiRSTChatProperties.DecodePath]);
        Assert.Equal(response.AdditionalProperties[FiRSTChatProperties.Mask], last.AdditionalProperties[FiRSTChatProperties.Mask]);

        // Microsoft.Extensions.AI's own coalescing makes one message with the usage and finish reason.
        var coalesced = updates.ToChatResponse();
        Assert.Equal(expected, coalesced.Text);
        Assert.Single(coalesced.Messages);
        Assert.Equal(ChatFinishReason.Stop, coalesced.FinishReason);
        Assert.Equal(response.Usage.OutputTokenCount, coalesced.Usage!.OutputTokenCount);
        Assert.Equal("model.bin", coalesced.ModelId);
    }

    [Fact]
    public async Task MaxOutputTokens_ends_the_answer_with_finish_reason_length()
    {
        var response = await _client.GetResponseAsync(Sort, new ChatOptions { Temperature = 0, MaxOutputTokens = 2 });
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(2, response.Usage!.OutputTokenCount);
        Assert.Equal("1", response.Text); // " " and "1": the leading space is dropped

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _client.GetResponseAsync(Sort, new ChatOptions { MaxOutputTokens = 0 }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _client.GetResponseAsync(Sort, new ChatOptions { Temperature = -1 }));
    }

    [Theory]
    [InlineData("5", "1 3 ")]
    [InlineData("3 5", "1 ")]   // spans three tokens: the text that may start it is held back until it completes
    [InlineData("3 7", "1 3 5 9")] // starts like "3 5" but never completes: the held text is released
    public async Task A_stop_sequence_cuts_the_answer_before_it(string stop, string expected)
    {
        var options = new ChatOptions { Temperature = 0, StopSequences = [stop] };
        var response = await _client.GetResponseAsync(Sort, options);
        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);

        var streamed = new List<string>();
        await foreach (var update in _client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, Sort)], options)) streamed.Add(update.Text);
        Assert.Equal(expected, string.Concat(streamed));
        Assert.DoesNotContain(streamed, text => text.Contains(stop));
    }

    [Fact]
    public async Task A_stop_sequence_ends_generation_where_it_appears()
    {
        // Nothing after the stop sequence is generated: the run ends with the token that completes it.
        var response = await _client.GetResponseAsync(Sort, new ChatOptions { Temperature = 0, StopSequences = ["5"] });
        var full = await _client.GetResponseAsync(Sort, Greedy);
        Assert.True(response.Usage!.OutputTokenCount < full.Usage!.OutputTokenCount);
        Assert.Equal(6, response.Usage.OutputTokenCount); // " ", "1", " ", "3", " ", "5"
    }

    [Fact]
    public void The_stop_filter_holds_back_only_what_may_start_a_stop_sequence()
    {
        var filter = new StopSequenceFilter(["<|im_end|>", "\n\n"]);
        Assert.Equal("Hello", filter.Push("Hello<|im"));
        Assert.Equal("", filter.Push("_en"));
        Assert.Equal("", filter.Push("d|>tail"));
        Assert.True(filter.Stopped);
        Assert.Equal("", filter.Push("more"));
        Assert.Equal("", filter.Flush());

        var falseStart = new StopSequenceFilter(["<|im_end|>", "\n\n"]);
        Assert.Equal("a", falseStart.Push("a<|"));
        Assert.Equal("<|b", falseStart.Push("b"));
        Assert.Equal("x", falseStart.Push("x\n"));
        Assert.False(falseStart.Stopped);
        Assert.Equal("\n", falseStart.Flush());

        // Two stop sequences in one piece: the earlier one cuts.
        var both = new StopSequenceFilter(["cd", "b"]);
        Assert.Equal("a", both.Push("abcd"));
    }

    [Fact]
    public async Task A_cancelled_token_throws_OperationCanceledException()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.GetResponseAsync(Sort, Greedy, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in _client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, Sort)], Greedy, cancelled.Token)) { }
        });

        // Cancelled while streaming: the next token is not generated.
        using var midway = new CancellationTokenSource();
        int updates = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in _client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, Sort)], Greedy, midway.Token))
            {
                updates++;
                midway.Cancel();
            }
        });
        Assert.Equal(1, updates);
    }

    [Fact]
    public async Task A_seed_makes_sampled_answers_repeatable_and_is_the_samplers_seed()
    {
        var options = new ChatOptions { Temperature = 1, TopP = 1, Seed = 7 };
        var first = await _client.GetResponseAsync("copy zq8kx =>", options);
        var second = await _client.GetResponseAsync("copy zq8kx =>", options);
        Assert.Equal(first.Text, second.Text);

        // Through the generator with the same sampler settings, the run gives the same text.
        var run = _generator.Generate("copy zq8kx =>", new GenerationOptions
        {
            Sampling = new SamplerOptions { Temperature = 1, TopP = 1, Seed = 7 },
            MaxSteps = 0,
            StopTokens = [_tokenizer.BosId, _tokenizer.EosId],
        });
        string text = string.Concat(run.Text());
        Assert.Equal(text.StartsWith(' ') ? text[1..] : text, first.Text);

        // A negative seed is a seed too (it wraps to ulong).
        var negative = new ChatOptions { Temperature = 1, TopP = 1, Seed = -3 };
        Assert.Equal((await _client.GetResponseAsync("copy zq8kx =>", negative)).Text, (await _client.GetResponseAsync("copy zq8kx =>", negative)).Text);
    }

    [Fact]
    public async Task With_routers_and_generated_paths_the_answer_reports_the_path_that_decoded_it()
    {
        var generator = new TextGenerator(_model, _tokenizer, new SessionOptions
        {
            Threads = 1,
            Routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin")),
            Paths = DemoProfileModel.Paths,
        });
        var client = new FiRSTChatClient(generator);
        var response = await client.GetResponseAsync("sort 5 3 9 1 =>", Greedy);

        Assert.Equal("1 3 5 9", response.Text);
        var properties = response.AdditionalProperties!;
        // The routers keep layers 0-4 for this prompt, sort's mask (copy's too), whose generated path decodes it.
        Assert.Equal("CopyPath", properties[FiRSTChatProperties.DecodePath]);
        Assert.Equal("Exact", properties[FiRSTChatProperties.PathReason]);
        Assert.Equal("11111000", properties[FiRSTChatProperties.Mask]);
        Assert.StartsWith("mask 11111000", Assert.IsType<string>(properties[FiRSTChatProperties.Routing]));
    }

    [Fact]
    public void GetService_gives_the_client_its_metadata_and_what_it_runs_on()
    {
        IChatClient client = _client;
        Assert.Same(_client, client.GetService<FiRSTChatClient>());
        Assert.Same(_client, client.GetService<IChatClient>());
        var metadata = client.GetService<ChatClientMetadata>()!;
        Assert.Equal("FiRST", metadata.ProviderName);
        Assert.Equal("model.bin", metadata.DefaultModelId);
        Assert.Same(_generator, client.GetService<TextGenerator>());
        Assert.Same(_model, client.GetService<LlamaModel>());
        Assert.Same(_tokenizer, client.GetService<TextTokenizer>());
        Assert.Same(ChatTemplate.TaskPrompt, client.GetService<ChatTemplate>());
        Assert.Null(client.GetService<string>());
        Assert.Null(client.GetService(typeof(FiRSTChatClient), serviceKey: "other"));
    }

    [Fact]
    public async Task Disposing_the_client_leaves_the_generator_usable()
    {
        using (var client = new FiRSTChatClient(_generator)) { }
        Assert.Equal("1 3 5 9", (await new FiRSTChatClient(_generator).GetResponseAsync(Sort, Greedy)).Text);
    }

    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Hi"),
        new(ChatRole.Assistant, "Hello!"),
        new(ChatRole.User, "sort 3 1 2 =>"),
    ];

    [Fact]
    public void Each_template_formats_a_conversation_exactly()
    {
        Assert.Equal("[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] sort 3 1 2 => [/INST]",
                     ChatTemplate.Llama2.Format(Conversation));
        Assert.Equal("<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nsort 3 1 2 =></s>\n<|assistant|>\n",
                     ChatTemplate.Zephyr.Format(Conversation));
        Assert.Equal("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nsort 3 1 2 =><|im_end|>\n<|im_start|>assistant\n",
                     ChatTemplate.ChatML.Format(Conversation));
        Assert.Equal("sort 3 1 2 =>", ChatTemplate.TaskPrompt.Format(Conversation));

        Assert.Equal(["<|im_end|>"], ChatTemplate.ChatML.StopSequences);
        Assert.Empty(ChatTemplate.TaskPrompt.StopSequences);
        Assert.Equal("Llama2", ChatTemplate.Llama2.ToString());
    }

    [Fact]
    public void Llama2_without_a_system_prompt_and_with_joined_messages()
    {
        ChatMessage[] messages = [new(ChatRole.User, "a"), new(ChatRole.User, "b"), new(ChatRole.Assistant, "c")];
        Assert.Equal("[INST] a\nb [/INST] c </s>", ChatTemplate.Llama2.Format(messages));
        Assert.Throws<NotSupportedException>(() => ChatTemplate.Llama2.Format([new(ChatRole.Tool, "x")]));
        Assert.Throws<ArgumentException>(() => ChatTemplate.Llama2.Format([new(ChatRole.System, "x")]));
        Assert.Throws<ArgumentException>(() => ChatTemplate.TaskPrompt.Format([new(ChatRole.System, "x")]));
        Assert.Throws<ArgumentException>(() => ChatTemplate.ChatML.Format([]));
    }

    [Fact]
    public void The_template_is_chosen_from_the_vocabulary()
    {
        SharedModels.Require();
        Assert.Same(ChatTemplate.TaskPrompt, ChatTemplate.For(_tokenizer));
        Assert.Same(ChatTemplate.TaskPrompt, ChatTemplate.For(TextTokenizer.Load(SharedModels.Tok512)));
        Assert.Same(ChatTemplate.Llama2, ChatTemplate.For(TextTokenizer.Load(SharedModels.Llama2Model)));
        Assert.Same(ChatTemplate.Zephyr, new FiRSTChatClient(_generator, ChatTemplate.Zephyr).Template);
    }

    [Fact]
    public void Special_tokens_in_a_prompt_are_encoded_as_their_ids()
    {
        SharedModels.Require();
        var llama = TextTokenizer.Load(SharedModels.Llama2Model);
        string prompt = ChatTemplate.Llama2.Format(Conversation);
        int[] ids = PromptEncoder.Encode(llama, prompt, ChatTemplate.Llama2.SpecialTokens);

        // BOS first, then "</s><s>" between the turns as EOS and BOS; each text part encoded on its own.
        int split = prompt.IndexOf("</s><s>", StringComparison.Ordinal);
        int[] first = llama.Encode(prompt[..split], addBos: false), second = llama.Encode(prompt[(split + 7)..], addBos: false);
        Assert.Equal([llama.BosId, .. first, llama.EosId, llama.BosId, .. second], ids);
        Assert.DoesNotContain(llama.EosId, llama.Encode(prompt)); // what the plain encoding would have given

        // A prompt without special tokens encodes as the generator's own prompts do.
        Assert.Equal(_tokenizer.Encode(Sort), PromptEncoder.Encode(_tokenizer, Sort, ChatTemplate.Llama2.SpecialTokens));
    }
}
