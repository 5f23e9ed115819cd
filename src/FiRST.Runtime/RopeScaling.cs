using FiRST.Schema;

namespace FiRST.Runtime;

/// <summary>How the rotary position embedding's frequencies are scaled (transformers' <c>rope_type</c>).</summary>
public enum RopeScalingType
{
    /// <summary>No scaling: pair <c>i</c> of a head turns by <c>theta^(-2i / head_size)</c> per position.</summary>
    Default,

    /// <summary>Every frequency divided by <see cref="RopeScaling.Factor"/> (transformers' <c>linear</c>).</summary>
    Linear,

    /// <summary>
    /// Llama 3.1's scaling (transformers' <c>llama3</c>): wavelengths above
    /// <c>OriginalMaxPositionEmbeddings / LowFreqFactor</c> are stretched by the factor, those below
    /// <c>OriginalMaxPositionEmbeddings / HighFreqFactor</c> kept, and those between interpolated smoothly.
    /// </summary>
    Llama3,
}

/// <summary>
/// A model's RoPE frequency scaling. Parameters the type does not use keep their neutral values (factor 1, the
/// others 0), so two descriptions of the same scaling are equal; <see cref="ModelConfig.Validate"/> checks them.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>No scaling.</summary>
    public static RopeScaling Default { get; } = new();

    /// <summary>The scaling type.</summary>
    public RopeScalingType Type { get; init; } = RopeScalingType.Default;

    /// <summary>The factor frequencies are divided by (linear; llama3's low frequencies); 1 for <see cref="RopeScalingType.Default"/>.</summary>
    public double Factor { get; init; } = 1;

    /// <summary>llama3: wavelengths above <c>OriginalMaxPositionEmbeddings / LowFreqFactor</c> are fully scaled; 0 otherwise.</summary>
    public double LowFreqFactor { get; init; }

    /// <summary>llama3: wavelengths below <c>OriginalMaxPositionEmbeddings / HighFreqFactor</c> are kept; 0 otherwise.</summary>
    public double HighFreqFactor { get; init; }

    /// <summary>llama3: the context length the model was pretrained with; 0 otherwise.</summary>
    public int OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>Linear scaling by <paramref name="factor"/>.</summary>
    public static RopeScaling Linear(double factor) => new() { Type = RopeScalingType.Linear, Factor = factor };

    /// <summary>Llama 3.1 scaling (Llama 3.2 1B: factor 32, low 1, high 4, original 8192).</summary>
    public static RopeScaling Llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) => new()
    {
        Type = RopeScalingType.Llama3,
        Factor = factor,
        LowFreqFactor = lowFreqFactor,
        HighFreqFactor = highFreqFactor,
        OriginalMaxPositionEmbeddings = originalMaxPositionEmbeddings,
    };

    /// <summary>The type as configuration files spell it: <c>default</c>, <c>linear</c> or <c>llama3</c>.</summary>
    public string TypeName => Type switch
    {
        RopeScalingType.Linear => ProfileSchema.Rope.Linear,
        RopeScalingType.Llama3 => ProfileSchema.Rope.Llama3,
        _ => ProfileSchema.Rope.Default,
    };

    /// <summary>The type and its parameters on one line, as <c>first inspect</c> prints them.</summary>
    public override string ToString() => Type switch
    {
        RopeScalingType.Linear => FormattableString.Invariant($"linear (factor {Factor:R})"),
        RopeScalingType.Llama3 => FormattableString.Invariant(
            $"llama3 (factor {Factor:R}, low_freq_factor {LowFreqFactor:R}, high_freq_factor {HighFreqFactor:R}, original_max_position_embeddings {OriginalMaxPositionEmbeddings})"),
        _ => ProfileSchema.Rope.Default,
    };
}
