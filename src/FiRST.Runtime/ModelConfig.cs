using FiRST.Schema;

namespace FiRST.Runtime;

/// <summary>
/// The shape of a Llama-family transformer. Immutable; <see cref="Validate"/> checks that the numbers
/// describe a model this runtime can run before anything is allocated from them.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Width of the residual stream (hidden size).</summary>
    public required int Dim { get; init; }

    /// <summary>Width of the SwiGLU feed-forward layer (intermediate size).</summary>
    public required int HiddenDim { get; init; }

    /// <summary>Number of transformer layers.</summary>
    public required int NLayers { get; init; }

    /// <summary>Number of query heads.</summary>
    public required int NHeads { get; init; }

    /// <summary>Number of key/value heads (grouped-query attention when smaller than <see cref="NHeads"/>).</summary>
    public required int NKvHeads { get; init; }

    /// <summary>Vocabulary size.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Longest sequence (prompt plus generated tokens) the model may process.</summary>
    public required int MaxSeqLen { get; init; }

    /// <summary>Epsilon added inside RMSNorm.</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>Base of the rotary position embedding frequencies.</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>How the rotary frequencies are scaled (<see cref="RopeScaling.Default"/>: not at all).</summary>
    public RopeScaling RopeScaling { get; init; } = RopeScaling.Default;

    /// <summary>True when the classifier shares its weights with the token embedding.</summary>
    public bool SharedClassifier { get; init; } = true;

    /// <summary>Dimension of one attention head.</summary>
    public int HeadSize => Dim / NHeads;

    /// <summary>Width of the key and value projections: <c>NKvHeads * HeadSize</c>.</summary>
    public int KvDim => NKvHeads * HeadSize;

    /// <summary>How many query heads share one key/value head.</summary>
    public int KvMul => NHeads / NKvHeads;

    /// <summary>Largest value accepted for any dimension; keeps size arithmetic far from overflow.</summary>
    /// <remarks>Defined by the profile schema, which the source generator checks with the same value.</remarks>
    public const int MaxDimension = ProfileSchema.MaxDimension;

    /// <summary>Largest number of layers accepted.</summary>
    /// <remarks>Defined by the profile schema, which the source generator checks with the same value.</remarks>
    public const int MaxLayers = ProfileSchema.MaxLayers;

    /// <summary>Number of parameters, classifier included once when shared.</summary>
    public long ParameterCount =>
        (long)VocabSize * Dim + NLayers * LayerParameterCount + Dim + (SharedClassifier ? 0 : (long)VocabSize * Dim);

    /// <summary>Parameters of one transformer layer (both norms, attention, feed-forward).</summary>
    public long LayerParameterCount =>
        2L * Dim + (long)Dim * Dim * 2 + 2L * KvDim * Dim + 3L * HiddenDim * Dim;

    /// <summary>Bytes of float32 key/value cache one token needs in one layer.</summary>
    public long KvBytesPerTokenPerLayer => 2L * KvDim * sizeof(float);

    /// <summary>
    /// Checks every dimension: positive, bounded, and consistent (heads divide the width, head size even
    /// for RoPE, KV heads divide the query heads); and the RoPE scaling's parameters for its type.
    /// </summary>
    /// <param name="source">The file the configuration came from, named in the error.</param>
    /// <exception cref="ModelLoadException">A value is out of range or inconsistent.</exception>
    public void Validate(string source)
    {
        Positive(source, "dim", Dim);
        Positive(source, "hidden_dim", HiddenDim);
        Positive(source, "n_layers", NLayers, MaxLayers);
        Positive(source, "n_heads", NHeads);
        Positive(source, "n_kv_heads", NKvHeads);
        Positive(source, "vocab_size", VocabSize);
        Positive(source, "max_seq_len", MaxSeqLen);
        if (Dim % NHeads != 0)
            throw new ModelLoadException(source, "n_heads", $"dim {Dim} is not divisible by n_heads {NHeads}");
        if (HeadSize % 2 != 0)
            throw new ModelLoadException(source, "n_heads", $"head size {HeadSize} (dim / n_heads) must be even for rotary embeddings");
        if (NKvHeads > NHeads || NHeads % NKvHeads != 0)
            throw new ModelLoadException(source, "n_kv_heads", $"n_heads {NHeads} must be a multiple of n_kv_heads {NKvHeads}");
        if (!(NormEps > 0 && NormEps < 1))
            throw new ModelLoadException(source, "norm_eps", $"expected a small positive number, got {NormEps}");
        if (!(RopeTheta > 1 && float.IsFinite(RopeTheta)))
            throw new ModelLoadException(source, "rope_theta", $"expected a finite number above 1, got {RopeTheta}");
        var r = RopeScaling ?? throw new ModelLoadException(source, ProfileSchema.Rope.Field, "expected a scaling (RopeScaling.Default for none), got null");
        if (!Enum.IsDefined(r.Type))
            throw new ModelLoadException(source, ProfileSchema.Rope.Field + "." + ProfileSchema.Rope.Type, $"{(int)r.Type} is not a RopeScalingType");
        if (ProfileSchema.Rope.Problem(r.TypeName, r.Factor, r.LowFreqFactor, r.HighFreqFactor, r.OriginalMaxPositionEmbeddings, out string field) is { } problem)
            throw new ModelLoadException(source, ProfileSchema.Rope.Field + "." + field, problem);
    }

    private static void Positive(string source, string field, int value, int max = MaxDimension)
    {
        if (value <= 0 || value > max)
            throw new ModelLoadException(source, field, $"expected a value between 1 and {max}, got {value}");
    }
}
