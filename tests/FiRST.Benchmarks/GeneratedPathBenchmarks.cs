using BenchmarkDotNet.Attributes;
using FiRST.Runtime;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Paths;

namespace FiRST.Benchmarks;

/// <summary>The profile the generated paths come from (hand-written tasks over stories260K's five layers).</summary>
[FiRST.FiRSTModel("Profiles/stories260K.first.json")]
public partial class Stories260KProfile;

/// <summary>
/// One greedy decode step per task: the generated straight-line path against the generic masked loop with
/// the same mask (Ratio column: generated / generic), on the real stories260K weights. Both run on one
/// session, so they read the same buffers at the same addresses (see <see cref="TaskMaskBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
public class GeneratedPathBenchmarks
{
    private const int Steps = 64;
    private LlamaModel? _model;
    private InferenceSession? _session;
    private IDecodePath _path = null!;

    /// <summary>The profile's task.</summary>
    [Params(Stories260KProfile.Task.Copy, Stories260KProfile.Task.Reverse, Stories260KProfile.Task.ShortAnswer)]
    public Stories260KProfile.Task Task { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string file = BenchmarkModels.Ensure("stories260K");
        _model = LlamaModel.Load(file, Stories260KProfile.LoadOptions());
        _path = Stories260KProfile.PathFor(Task);
        _session = _model.CreateSession(new SessionOptions { Mask = _path.Mask, Threads = 1 });
        if (_session.DecodePath is not MaskedPath) throw new InvalidOperationException("expected the generic masked path");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public int GenericMaskedPath()
    {
        var s = _session!;
        s.Reset();
        int token = 1;
        for (int i = 0; i < Steps; i++) token = Ops.ArgMax(s.Forward(token));
        return token;
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public int GeneratedPath()
    {
        var s = _session!;
        s.Reset();
        int token = 1;
        for (int i = 0; i < Steps; i++) token = Ops.ArgMax(s.Forward(token, _path));
        return token;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _model?.Dispose();
    }
}
