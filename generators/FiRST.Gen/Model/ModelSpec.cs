namespace FiRST.Gen.Model
{
    /// <summary>
    /// A validated model description: the numbers of <c>FiRST.Runtime.ModelConfig</c> and the profile's
    /// tasks. Everything here has been checked, so emitting code from it cannot fail.
    /// </summary>
    /// <param name="IsProfile">True for a FiRST profile, false for a bare Hugging Face config (no tasks).</param>
    /// <param name="Dim">Width of the residual stream.</param>
    /// <param name="HiddenDim">Width of the feed-forward layer.</param>
    /// <param name="NLayers">Number of layers.</param>
    /// <param name="NHeads">Number of query heads.</param>
    /// <param name="NKvHeads">Number of key/value heads.</param>
    /// <param name="VocabSize">Vocabulary size.</param>
    /// <param name="MaxSeqLen">Context length.</param>
    /// <param name="NormEps">RMSNorm epsilon.</param>
    /// <param name="RopeTheta">RoPE base.</param>
    /// <param name="RopeScaling">RoPE frequency scaling.</param>
    /// <param name="SharedClassifier">The classifier shares the embedding's weights.</param>
    /// <param name="Tasks">The profile's tasks, in file order.</param>
    internal sealed record ModelSpec(
        bool IsProfile,
        int Dim,
        int HiddenDim,
        int NLayers,
        int NHeads,
        int NKvHeads,
        int VocabSize,
        int MaxSeqLen,
        float NormEps,
        float RopeTheta,
        RopeScalingSpec RopeScaling,
        bool SharedClassifier,
        EquatableArray<TaskSpec> Tasks)
    {
        /// <summary>Dimension of one attention head.</summary>
        public int HeadSize => Dim / NHeads;

        /// <summary>Width of the key and value projections.</summary>
        public int KvDim => NKvHeads * HeadSize;
    }
}
