using FiRST.Runtime.Sampling;

namespace FiRST.Runtime.Generation;

/// <summary>Options of one generation run.</summary>
public sealed record GenerationOptions
{
    /// <summary>How tokens are sampled (temperature 0 is greedy).</summary>
    public SamplerOptions Sampling { get; init; } = new();

    /// <summary>
    /// Forward passes to run, prompt positions included (llama2.c's <c>-n</c>); 0 means up to the context
    /// length. Default 256.
    /// </summary>
    public int MaxSteps { get; init; } = 256;

    /// <summary>Largest number of tokens to generate; 0 means no limit other than <see cref="MaxSteps"/>.</summary>
    public int MaxNewTokens { get; init; }

    /// <summary>Tokens that end the run when sampled (not emitted); <c>null</c> uses the tokenizer's defaults.</summary>
    public IReadOnlyCollection<int>? StopTokens { get; init; }

    /// <summary>Prepend the beginning-of-sequence token to the prompt. Default true.</summary>
    public bool AddBos { get; init; } = true;
}
