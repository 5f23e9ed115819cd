using BenchmarkDotNet.Attributes;
using FiRST.Runtime;
using FiRST.Runtime.Kernels;

namespace FiRST.Benchmarks;

/// <summary>
/// One greedy decode step (<see cref="InferenceSession.Forward"/> plus the arg-max that picks the next token,
/// as <c>first bench</c> does), reported per token. Each iteration starts from the same state: the session is
/// reset and a 16-token prompt prefilled in <c>[IterationSetup]</c> (not timed), then <see cref="Steps"/>
/// steps run at positions 16..79, so every model and thread count does the same amount of attention work
/// and the context never fills.
/// </summary>
public class DecodeBenchmarks : ModelBenchmark
{
    /// <summary>Prompt prefilled before each iteration.</summary>
    public const int PromptTokens = 16;

    /// <summary>Decode steps per invocation (BenchmarkDotNet divides by this: results are per token).</summary>
    public const int Steps = 64;

    private int _first;

    /// <inheritdoc />
    protected override int PromptLength => PromptTokens;

    /// <summary>
    /// Back to a 16-token context. [IterationSetup] makes BenchmarkDotNet run one invocation per iteration;
    /// an invocation is <see cref="Steps"/> tokens, long enough to time well.
    /// </summary>
    [IterationSetup]
    public void ResetAndPrefill()
    {
        Session.Reset();
        _first = Ops.ArgMax(Session.Prefill(Prompt));
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public int Decode()
    {
        var session = Session;
        // Only if a job forces several invocations per iteration: start over rather than overflow the
        // context (timed then, which such a job accepts).
        if (session.Remaining < Steps) ResetAndPrefill();
        int token = _first;
        for (int i = 0; i < Steps; i++) token = Ops.ArgMax(session.Forward(token));
        return token;
    }
}
