namespace FiRST.Runtime.Generation;

/// <summary>Why a generation run ended.</summary>
public enum StopReason
{
    /// <summary>The run has not ended yet.</summary>
    None,
    /// <summary>A stop token (end of sequence) was sampled.</summary>
    StopToken,
    /// <summary><see cref="GenerationOptions.MaxSteps"/> forward passes were run.</summary>
    MaxSteps,
    /// <summary><see cref="GenerationOptions.MaxNewTokens"/> tokens were generated.</summary>
    MaxNewTokens,
    /// <summary>The model's context window (<c>max_seq_len</c>) is full.</summary>
    ContextFull,
    /// <summary>The run was cancelled.</summary>
    Cancelled,
}

/// <summary>Timings and counts of one generation run.</summary>
public sealed record GenerationStats
{
    /// <summary>Prompt tokens, BOS included.</summary>
    public int PromptTokens { get; init; }

    /// <summary>Tokens generated (stop token excluded).</summary>
    public int GeneratedTokens { get; init; }

    /// <summary>Milliseconds from the start until the first token was sampled (the whole prompt processed).</summary>
    public double PrefillMs { get; init; }

    /// <summary>Milliseconds spent in forward passes after prefill.</summary>
    public double DecodeMs { get; init; }

    /// <summary>Forward passes after prefill.</summary>
    public int DecodeSteps { get; init; }

    /// <summary>Mean milliseconds per decode forward pass (0 when none ran).</summary>
    public double MsPerToken => DecodeSteps == 0 ? 0 : DecodeMs / DecodeSteps;

    /// <summary>Decode throughput in tokens per second (0 when no decode step ran).</summary>
    public double TokensPerSecond => DecodeMs <= 0 ? 0 : DecodeSteps * 1000.0 / DecodeMs;

    /// <summary>Prompt throughput in tokens per second.</summary>
    public double PrefillTokensPerSecond => PrefillMs <= 0 ? 0 : PromptTokens * 1000.0 / PrefillMs;

    /// <summary>Why the run ended.</summary>
    public StopReason StopReason { get; init; }

    /// <summary>The layers that ran, one character per layer (<c>1</c> kept, <c>0</c> skipped).</summary>
    public string Mask { get; init; } = "";

    /// <summary>Threads each kernel was split over.</summary>
    public int Threads { get; init; }

    /// <summary>What the routers decided at prefill (every layer's pooled <c>p_l</c> and the mask); null without routers.</summary>
    public Routing.RoutingDecision? Routing { get; init; }

    /// <summary>The decode path that ran: a generated task path's class name (<c>CopyPath</c>), or <c>generic</c> for the masked loop.</summary>
    public string DecodePath { get; init; } = "";

    /// <summary>Bytes of KV cache the run's session held.</summary>
    public long KvBytes { get; init; }

    /// <summary>Why the run decoded on <see cref="DecodePath"/>: pinned, the exact compiled path, a superset path, or the dynamic path.</summary>
    public Decoding.PathReason PathReason { get; init; }

    /// <summary>The self-speculation plan the run used; null when it did not speculate.</summary>
    public Decoding.SpeculationOptions? Speculation { get; init; }

    /// <summary>Tokens drafted by self-speculation.</summary>
    public long DraftedTokens { get; init; }

    /// <summary>Drafted tokens the verify pass kept.</summary>
    public long AcceptedTokens { get; init; }

    /// <summary>Share of drafted tokens kept (0 without speculation).</summary>
    public double AcceptanceRate => DraftedTokens == 0 ? 0 : (double)AcceptedTokens / DraftedTokens;

    /// <summary>Tokens that left the model at an early exit (dynamic path with thresholds).</summary>
    public long EarlyExits { get; init; }

    /// <summary>
    /// Mean number of layers a token decoded one at a time ran through: the kept layers, or fewer with early
    /// exit (0 when no token decoded that way, as with speculation).
    /// </summary>
    public double MeanExitDepth { get; init; }
}
