using BenchmarkDotNet.Attributes;
using FiRST.Runtime;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Paths;

namespace FiRST.Benchmarks;

/// <summary>The embedded demo model's calibrated profile (written by <c>first calibrate</c>, committed beside the model).</summary>
[FiRST.FiRSTModel("demo/model.first.json")]
public partial class DemoProfile;

/// <summary>
/// FiRST's payoff on the embedded model: one greedy decode step of the full model against each task's
/// calibrated mask, run by the task's generated path and by the generic masked loop (Ratio column against
/// the full model, same run). The generic and generated runs share one session, so the comparison between
/// them sees the same buffers at the same addresses: with two sessions, where their scratch and KV arrays fell
/// in the caches moved single runs by up to a tenth either way, more than the paths differ.
/// </summary>
[MemoryDiagnoser]
public class TaskMaskBenchmarks
{
    private const int Steps = 32;
    private LlamaModel? _model;
    private InferenceSession? _full, _masked;
    private IDecodePath _path = null!;

    /// <summary>The profile's task.</summary>
    [ParamsAllValues]
    public DemoProfile.Task Task { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string root = BenchmarkModels.RepoRoot() ?? throw new InvalidOperationException("run the benchmarks inside the repository");
        _model = LlamaModel.Load(Path.Combine(root, "models", "demo", "model.bin"));
        _path = DemoProfile.PathFor(Task);
        _full = _model.CreateSession(new SessionOptions { Threads = 1 });
        _masked = _model.CreateSession(new SessionOptions { Mask = _path.Mask, Threads = 1 });
        // The session's own path for a plain Forward is the generic loop (no path table given).
        if (_masked.DecodePath is not MaskedPath) throw new InvalidOperationException("expected the generic masked path");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public int FullModel() => Run(_full!, null);

    [Benchmark(OperationsPerInvoke = Steps)]
    public int TaskMaskGeneric() => Run(_masked!, null);

    [Benchmark(OperationsPerInvoke = Steps)]
    public int TaskMaskGenerated() => Run(_masked!, _path);

    private static int Run(InferenceSession s, IDecodePath? path)
    {
        s.Reset();
        int token = 1;
        for (int i = 0; i < Steps; i++) token = Ops.ArgMax(path is null ? s.Forward(token) : s.Forward(token, path));
        return token;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _full?.Dispose();
        _masked?.Dispose();
        _model?.Dispose();
    }
}
