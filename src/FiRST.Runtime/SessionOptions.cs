using FiRST.Runtime.Kernels;

namespace FiRST.Runtime;

/// <summary>Options for <see cref="LlamaModel.CreateSession"/>.</summary>
public sealed class SessionOptions
{
    /// <summary>Threads that share each matrix product (the calling thread included). Default: one per core.</summary>
    public int Threads { get; init; } = WorkerPool.DefaultThreads;

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
}
