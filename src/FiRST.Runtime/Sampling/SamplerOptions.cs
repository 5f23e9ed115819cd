namespace FiRST.Runtime.Sampling;

/// <summary>How the next token is chosen from the logits.</summary>
public sealed record SamplerOptions
{
    /// <summary>Softmax temperature; 0 picks the most likely token (greedy). Default 1.</summary>
    public float Temperature { get; init; } = 1.0f;

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability exceeds this. 1 or 0 disables it. Default 0.9.</summary>
    public float TopP { get; init; } = 0.9f;

    /// <summary>Keep only the <c>k</c> most likely tokens before top-p; 0 disables it.</summary>
    public int TopK { get; init; }

    /// <summary>Random seed; the same seed, model and prompt give the same output. Default 42.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Checks the values are usable.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, not finite or out of range.</exception>
    public void Validate()
    {
        if (!(Temperature >= 0 && float.IsFinite(Temperature)))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be a finite number >= 0");
        if (!(TopP >= 0 && TopP <= 1))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be between 0 and 1");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be >= 0");
    }
}
