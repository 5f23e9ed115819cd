using BenchmarkDotNet.Attributes;
using FiRST.Runtime;

namespace FiRST.Benchmarks;

/// <summary>
/// <see cref="InferenceSession.Prefill"/> of a 128-token prompt (seeded random token ids) from an empty
/// context, reported per token. Prefill runs the prompt token by token through the same forward pass as
/// decode, so per-token numbers compare directly with <see cref="DecodeBenchmarks"/>; a batched prefill
/// would show here as a drop below the decode cost.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ModelBandwidthConfig))]
public class PrefillBenchmarks
{
    /// <summary>Prompt length (fits every model's context: the smallest, 15M, has 256 positions).</summary>
    public const int PromptTokens = 128;

    private LlamaModel? _model;
    private InferenceSession? _session;
    private int[] _prompt = [];

    /// <summary>Which model: <c>stories260K</c>, <c>15M</c> or <c>110M</c> (see <see cref="BenchmarkModels"/>).</summary>
    [ParamsSource(nameof(Models), Priority = -1)] // the model column first in the summary
    public string Model { get; set; } = "";

    /// <summary>Threads each matrix product is split over.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>The models whose files are (or can be made) available.</summary>
    public static IEnumerable<string> Models() => BenchmarkModels.Available();

    [GlobalSetup]
    public void Setup()
    {
        _model = LlamaModel.Load(BenchmarkModels.Ensure(Model));
        _session = _model.CreateSession(new SessionOptions { Threads = Threads });
        _prompt = BenchmarkModels.RandomTokens(PromptTokens, _model.Config.VocabSize);
    }

    /// <summary>Resetting only moves the position back to 0 (the KV storage is reused), so it costs nothing to time.</summary>
    [Benchmark(OperationsPerInvoke = PromptTokens)]
    public float Prefill()
    {
        _session!.Reset();
        return _session.Prefill(_prompt)[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _model?.Dispose();
    }
}
