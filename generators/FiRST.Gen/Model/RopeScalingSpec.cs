using FiRST.Schema;

namespace FiRST.Gen.Model
{
    /// <summary>
    /// The model's RoPE frequency scaling, validated with <c>ProfileSchema.Rope.Problem</c>; parameters the type
    /// does not use hold their neutral values (factor 1, the others 0), as in the runtime's <c>RopeScaling</c>.
    /// </summary>
    /// <param name="Type">default, linear or llama3 (the <c>ProfileSchema.Rope</c> names).</param>
    /// <param name="Factor">The factor frequencies are divided by.</param>
    /// <param name="LowFreqFactor">llama3's low-frequency factor.</param>
    /// <param name="HighFreqFactor">llama3's high-frequency factor.</param>
    /// <param name="OriginalMaxPositionEmbeddings">llama3's pretraining context length.</param>
    internal sealed record RopeScalingSpec(string Type, double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings)
    {
        /// <summary>No scaling.</summary>
        public static RopeScalingSpec Default { get; } = new RopeScalingSpec(ProfileSchema.Rope.Default, 1, 0, 0, 0);

        /// <summary>True for scaling other than <c>default</c>: only then does generated code mention it.</summary>
        public bool IsScaled => Type != ProfileSchema.Rope.Default;
    }
}
