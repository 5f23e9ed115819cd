namespace FiRST.Runtime.Paths;

/// <summary>
/// A model's shape as compile-time constants. The generator emits one struct per model that implements it
/// with literal values; the runtime's compiled decoder is generic over it, so the JIT and the AOT compiler
/// see every trip count, row split and buffer size as a constant when they compile that decoder for the
/// struct. Users never implement it by hand: it exists for generated code.
/// </summary>
public interface IModelShape
{
    /// <summary>Width of the residual stream.</summary>
    static abstract int Dim { get; }

    /// <summary>Width of the SwiGLU feed-forward layer.</summary>
    static abstract int HiddenDim { get; }

    /// <summary>Number of transformer layers.</summary>
    static abstract int NLayers { get; }

    /// <summary>Number of query heads.</summary>
    static abstract int NHeads { get; }

    /// <summary>Number of key/value heads.</summary>
    static abstract int NKvHeads { get; }

    /// <summary>Vocabulary size.</summary>
    static abstract int VocabSize { get; }

    /// <summary>Longest sequence the model may process.</summary>
    static abstract int MaxSeqLen { get; }
}
