using FiRST.Runtime;
using FiRST.Runtime.Paths;

namespace FiRST.Cli.Commands;

/// <summary>
/// Compiles a decode path's token step before the first token needs it: one throwaway step on a session of
/// its own, on another core, while the prompt's prefill runs. Under the JIT the first decode step of a small
/// model otherwise costs ten times the steady state (every kernel of the path instantiated over the generated
/// shape compiles at its first call; ReadyToRun leaves them to the JIT), measured in docs/measurements.md.
/// </summary>
/// <remarks>
/// Only where it pays: a compiled path known before prefill (a pinned task), a spare core, and a model whose
/// token step is cheaper than compiling it (weights and the throwaway session's KV cache of at most
/// <see cref="MaxBytes"/> each); a large model's tokens dwarf the compile time and its extra step would compete
/// with prefill for memory bandwidth. NativeAOT builds have nothing to compile and skip it.
/// </remarks>
internal sealed class DecodeWarmUp : IDisposable
{
    private const long MaxBytes = 64L << 20;

    private readonly Task _task;

    private DecodeWarmUp(Task task) => _task = task;

    /// <summary>Starts the step, or returns null where it would not pay.</summary>
    public static DecodeWarmUp? Start(LlamaModel model, IDecodePath? path, int threads, int token)
    {
        if (path is null || Environment.ProcessorCount < 2 || !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled) return null;
        var c = model.Config;
        long kvBytes = (long)path.Mask.KeptCount * c.MaxSeqLen * c.KvDim * 2 * sizeof(float);
        if (c.ParameterCount * sizeof(float) > MaxBytes || kvBytes > MaxBytes) return null;
        return new DecodeWarmUp(Task.Run(() =>
        {
            using var session = model.CreateSession(new SessionOptions { Path = path, Threads = threads });
            session.Forward(token);
        }));
    }

    /// <summary>Waits for the step (a few milliseconds at most), so its session is gone before the model is.</summary>
    public void Dispose()
    {
        try
        {
            _task.Wait();
        }
        catch (AggregateException)
        {
            // A failed warm-up costs nothing but the compile it would have saved; the real run reports its own errors.
        }
    }
}
