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
}
