using FiRST.Runtime.Tokenization;

namespace FiRST.Runtime.Generation;

/// <summary>
/// Text in, tokens out: a model and its tokenizer. Thread-safe: each run gets its own session, so runs on
/// different threads proceed independently over the shared weights.
/// </summary>
/// <example>
/// <code>
/// using var model = LlamaModel.Load("stories260K.bin");
/// var tokenizer = TextTokenizer.Load("tok512.bin");
/// var generator = new TextGenerator(model, tokenizer);
/// var run = generator.Generate("Once upon a time", new GenerationOptions { Sampling = new() { Temperature = 0 } });
/// foreach (string text in run.Text()) Console.Write(text);
/// Console.WriteLine($"{run.Stats.TokensPerSecond:F1} tok/s");
/// </code>
/// </example>
public sealed class TextGenerator
{
    /// <summary>Creates a generator. The tokenizer must have exactly the model's vocabulary size.</summary>
    /// <exception cref="FiRSTException">The tokenizer does not fit the model (see <see cref="TextTokenizer.EnsureFits"/>).</exception>
    public TextGenerator(LlamaModel model, TextTokenizer tokenizer, SessionOptions? sessionOptions = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        tokenizer.EnsureFits(model);
        Model = model;
        Tokenizer = tokenizer;
        SessionOptions = sessionOptions ?? new SessionOptions();
    }

    /// <summary>The model.</summary>
    public LlamaModel Model { get; }

    /// <summary>The tokenizer.</summary>
    public TextTokenizer Tokenizer { get; }

    /// <summary>Options of the session each run creates (threads, layer mask).</summary>
    public SessionOptions SessionOptions { get; }

    /// <summary>
    /// Encodes <paramref name="prompt"/> and returns a run to enumerate (sync or async). The prompt is
    /// checked against the context length here.
    /// </summary>
    /// <exception cref="PromptTooLongException">The prompt has more tokens than the model's context.</exception>
    public GenerationRun Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        options.Sampling.Validate();
        int[] tokens = Tokenizer.Encode(prompt, options.AddBos);
        return Generate(tokens, options, cancellationToken);
    }

    /// <summary>Starts a run from prompt token ids.</summary>
    /// <exception cref="PromptTooLongException">The prompt has more tokens than the model's context.</exception>
    public GenerationRun Generate(IReadOnlyList<int> promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        options ??= new GenerationOptions();
        options.Sampling.Validate();
        if (promptTokens.Count == 0) throw new ArgumentException("the prompt is empty; add BOS or give at least one token", nameof(promptTokens));
        if (promptTokens.Count > Model.Config.MaxSeqLen) throw new PromptTooLongException(promptTokens.Count, Model.Config.MaxSeqLen);
        foreach (int t in promptTokens)
            if ((uint)t >= (uint)Model.Config.VocabSize)
                throw new ArgumentException($"prompt token {t} is outside the vocabulary of {Model.Config.VocabSize}", nameof(promptTokens));
        return new GenerationRun(Model, Tokenizer, SessionOptions, promptTokens.ToArray(), options, cancellationToken);
    }
}

/// <summary>A prompt has more tokens than the model's context window holds.</summary>
public sealed class PromptTooLongException : FiRSTException
{
    /// <summary>Creates the exception.</summary>
    public PromptTooLongException(int promptTokens, int maxSeqLen)
        : base($"the prompt is {promptTokens} tokens long but the model's context holds {maxSeqLen}")
    {
        PromptTokens = promptTokens;
        MaxSeqLen = maxSeqLen;
    }

    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>The model's context length.</summary>
    public int MaxSeqLen { get; }
}
