using BenchmarkDotNet.Attributes;
using FiRST.Runtime;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Paths;

namespace FiRST.Benchmarks;

/// <summary>The embedded demo model's calibrated profile (written by <c>first calibrate</c>, committed beside the model).</summary>
[FiRST.FiRSTModel("DefaultModel/model.first.json")]
public partial class DemoProfile;

/// <summary>
/// FiRST's payoff on the embedded model: one greedy decode step of the full model against each task's
/// calibrated mask, run by the task's generated path and by the generic masked loop (Ratio column against
/// the full model, same run).
/// </summary>
[MemoryDiagnoser]
public class TaskMaskBenchmarks
{
    private const int Steps = 32;
    private LlamaModel? _model;
    private InferenceSession? _full, _generated, _generic;
    private IDecodePath _path = null!;

    /// <summary>The profile's task.</summary>
    [ParamsAllValues]
    public DemoProfile.Task Task { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string root = BenchmarkModels.RepoRoot() ?? throw new InvalidOperationException("run the benchmarks inside the repository");
        _model = LlamaModel.Load(Path.Combine(root, "src", "FiRST.Cli", "DefaultModel", "model.bin"));
        _path = DemoProfile.PathFor(Task);
        _full = _model.CreateSession(new SessionOptions { Threads = 1 });
        _generated = _model.CreateSession(new SessionOptions { Mask = _path.Mask, Threads = 1 });
        _generic = _model.CreateSession(new SessionOptions { Mask = _path.Mask, Threads = 1 });
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public int FullModel() => Run(_full!, null);

    [Benchmark(OperationsPerInvoke = Steps)]
    public int TaskMaskGeneric() => Run(_generic!, null);

    [Benchmark(OperationsPerInvoke = Steps)]
    public int TaskMaskGenerated() => Run(_generated!, _path);

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
        _generated?.Dispose();
        _generic?.Dispose();
        _model?.Dispose();
    }
}
