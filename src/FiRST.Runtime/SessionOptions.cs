using FiRST.Runtime.Kernels;

namespace FiRST.Runtime;

/// <summary>Options for <see cref="LlamaModel.CreateSession"/>.</summary>
public sealed class SessionOptions
{
    /// <summary>Threads that share each matrix product (the calling thread included). Default: one per core.</summary>
    public int Threads { get; init; } = WorkerPool.DefaultThreads;

    /// <summary>
    /// Int8 weights (<see cref="WeightFormat.Q8"/>) multiply activations quantized to int8 in the weights' groups,
    /// as llama.cpp's Q8_0 path does: integer dot products, so decode is bound by reading the weights rather than
    /// by widening them. False keeps activations in float32: exactly the float math of the dequantized weights,
    /// and slower. Default true; no effect on float32 or bfloat16 weights, or where the processor lacks AVX2.
    /// </summary>
    public bool QuantizeActivations { get; init; } = true;

    /// <summary>
    /// Layers the session runs; <c>null</c> runs all. Skipped layers get no KV storage and pass the residual
    /// stream through unchanged.
    /// </summary>
    public LayerMask? Mask { get; init; }

    /// <summary>
    /// FiRST routers: the first prefill from position 0 pools them over the prompt and fixes the mask for the
    /// rest of the run (see <see cref="InferenceSession.Routing"/>). Exclusive with <see cref="Mask"/>; needs
    /// every layer loaded. <see cref="InferenceSession.Reset"/> routes the next prompt afresh.
    /// </summary>
    public Routing.RouterSet? Routers { get; init; }

    /// <summary>A layer whose mean router output over the prompt is below this is skipped. Default 0.5.</summary>
    public float RouterThreshold { get; init; } = 0.5f;

    /// <summary>
    /// Decode paths compiled for known masks (a generated model's <c>Paths</c>): after routing, the session
    /// decodes with the path for the chosen mask and falls back to the generic masked loop for any other.
    /// </summary>
    public Paths.DecodePathTable? Paths { get; init; }

    /// <summary>
    /// Pins the session to one decode path (a generated task path, such as <c>DemoModel.PathFor(task)</c>): the
    /// session runs the path's mask and every token decodes on it. Exclusive with <see cref="Mask"/> and
    /// <see cref="Routers"/>.
    /// </summary>
    public Paths.IDecodePath? Path { get; init; }

    /// <summary>
    /// Pins the session to the path of the profile task of this name in <see cref="Paths"/> (ordinal,
    /// case-insensitive), like <see cref="Path"/>. Exclusive with <see cref="Path"/>, <see cref="Mask"/> and
    /// <see cref="Routers"/>.
    /// </summary>
    public string? Task { get; init; }

    /// <summary>How a routed session picks its path when no compiled path has exactly the routed mask. Default <see cref="Decoding.PathPolicy.Superset"/>.</summary>
    public Decoding.PathPolicy Policy { get; init; } = Decoding.PathPolicy.Superset;

    /// <summary>
    /// Token-level early exit on the dynamic path (the generic loop, which a session runs when no compiled path
    /// fits its mask or the policy is <see cref="Decoding.PathPolicy.Dynamic"/>); null decodes every token
    /// through every kept layer.
    /// </summary>
    public Decoding.EarlyExitOptions? EarlyExit { get; init; }

    /// <summary>
    /// Self-speculative decoding with this plan (draft layers among the session's kept layers, lookahead) for
    /// generation runs; null does not speculate unless <see cref="SpeculateAsCalibrated"/> finds a plan.
    /// </summary>
    public Decoding.SpeculationOptions? Speculation { get; init; }

    /// <summary>
    /// When <see cref="Speculation"/> is null, speculate with the plan the decode path carries (a generated
    /// task path whose profile has one). Default false.
    /// </summary>
    public bool SpeculateAsCalibrated { get; init; }
}
