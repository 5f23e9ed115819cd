using BenchmarkDotNet.Attributes;
using FiRST.Runtime;

namespace FiRST.Benchmarks;

/// <summary>
/// <see cref="InferenceSession.Prefill"/> of a 128-token prompt (seeded random token ids) from an empty
/// context, reported per token. Prefill runs the prompt in batches through matrix-matrix products, so each
/// weight is read once per batch: compare with <see cref="DecodeBenchmarks"/>, where it is read once per token.
/// </summary>
public class PrefillBenchmarks : ModelBenchmark
{
    /// <summary>Prompt length (fits every model's context: the smallest, 15M, has 256 positions).</summary>
    public const int PromptTokens = 128;

    /// <inheritdoc />
    protected override int PromptLength => PromptTokens;

    /// <summary>Resetting only moves the position back to 0 (the KV storage is reused), so it costs nothing to time.</summary>
    [Benchmark(OperationsPerInvoke = PromptTokens)]
    public float Prefill()
    {
        Session.Reset();
        return Session.Prefill(Prompt)[0];
    }
}
