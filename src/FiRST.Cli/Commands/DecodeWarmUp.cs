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
/// with prefill for memory bandwidth. NativeAOT builds have nothing to compile and skip it. Where the weights'
/// format is known before loading (the embedded model), <see cref="StartBlank"/> starts it earlier still.
/// </remarks>
internal sealed class DecodeWarmUp : IDisposable
{
    private const long MaxBytes = 64L << 20;

    private readonly Task _task;

    private DecodeWarmUp(Task task) => _task = task;

    /// <summary>Starts the step, or returns null where it would not pay.</summary>
    public static DecodeWarmUp? Start(LlamaModel model, IDecodePath? path, int token)
    {
        if (!CanCompile(path) || !Small(model.Config, path)) return null;
        return new DecodeWarmUp(Task.Run(() =>
        {
            Softmax();
            Step(model, path, token);
        }));
    }

    /// <summary>
    /// Starts the step before the model is even loaded, on a blank float32 model of the shape the file at
    /// <paramref name="modelPath"/> states (weights all zero, one small buffer): the code a step runs depends only
    /// on the shape and the weights' format, so the compilation overlaps loading and prefill instead of prefill
    /// alone, which for a short prompt ended before it did. Null where it would not pay (as <see cref="Start"/>).
    /// </summary>
    public static DecodeWarmUp? StartBlank(string modelPath, IDecodePath? path)
    {
        if (!CanCompile(path)) return null;
        return new DecodeWarmUp(Task.Run(() =>
        {
            // The softmax first: it needs no model, and its compilation otherwise sometimes ended after the
            // answer's third step had started waiting for it.
            Softmax();
            var c = LlamaModel.ReadConfig(modelPath);
            if (!Small(c, path)) return;
            using var model = LlamaModel.Blank(c);
            Step(model, path, 0);
        }));
    }

    /// <summary>A compiled path, a spare core and a JIT to compile it: NativeAOT builds have nothing to compile.</summary>
    private static bool CanCompile([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] IDecodePath? path) =>
        path is not null && Environment.ProcessorCount >= 2 && System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled;

    /// <summary>Weights and the throwaway session's KV cache of at most <see cref="MaxBytes"/> each.</summary>
    private static bool Small(ModelConfig c, IDecodePath path) =>
        c.ParameterCount * sizeof(float) <= MaxBytes && (long)path.Mask.KeptCount * c.MaxSeqLen * c.KvDim * 2 * sizeof(float) <= MaxBytes;

    /// <summary>
    /// One decode step on a session of its own, on one thread whatever the run's: two sessions' spinning workers
    /// on two cores slowed some answers to 3 ms/token. Stepping the session further (to position 17) delayed the
    /// step's own compilation past the real prefill's start, and a prefill first made the warm-up compile what the
    /// real prefill compiles anyway (4 ms/token).
    /// </summary>
    private static void Step(LlamaModel model, IDecodePath path, int token)
    {
        using var session = model.CreateSession(new SessionOptions { Path = path, Threads = 1 });
        session.Forward(token);
    }

    /// <summary>
    /// The attention's softmax over a row a whole 512-bit vector long: that vectorised branch is only taken, and so
    /// only compiled, from position 15 on. A step at position 0 alone left it to compile during the real answer's
    /// third step (1.1 ms/token instead of 0.17 for a 4-token answer).
    /// </summary>
    private static void Softmax()
    {
        Span<float> row = stackalloc float[32];
        Runtime.Kernels.Ops.Softmax(row);
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
