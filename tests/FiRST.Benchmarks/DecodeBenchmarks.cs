using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
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
[MemoryDiagnoser]
[Config(typeof(ModelBandwidthConfig))]
public class DecodeBenchmarks
{
    /// <summary>Prompt prefilled before each iteration.</summary>
    public const int PromptTokens = 16;

    /// <summary>Decode steps per invocation (BenchmarkDotNet divides by this: results are per token).</summary>
    public const int Steps = 64;

    private LlamaModel? _model;
    private InferenceSession? _session;
    private int[] _prompt = [];
    private int _first;

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

    /// <summary>
    /// Back to a 16-token context. [IterationSetup] makes BenchmarkDotNet run one invocation per iteration;
    /// an invocation is <see cref="Steps"/> tokens, long enough to time well.
    /// </summary>
    [IterationSetup]
    public void ResetAndPrefill()
    {
        _session!.Reset();
        _first = Ops.ArgMax(_session.Prefill(_prompt));
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public int Decode()
    {
        var session = _session!;
        // Only if a job forces several invocations per iteration: start over rather than overflow the
        // context (timed then, which such a job accepts).
        if (session.Remaining < Steps) ResetAndPrefill();
        int token = _first;
        for (int i = 0; i < Steps; i++) token = Ops.ArgMax(session.Forward(token));
        return token;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _model?.Dispose();
    }
}

/// <summary>Adds the achieved weight bandwidth of a forward step (every weight is read once per token).</summary>
internal sealed class ModelBandwidthConfig : ManualConfig
{
    public ModelBandwidthConfig() =>
        AddColumn(new BandwidthColumn(c => c.Parameters["Model"] is string model ? BenchmarkModels.WeightBytesPerToken(model) : null));
}
