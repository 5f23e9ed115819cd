using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;

namespace FiRST.Benchmarks;

/// <summary>
/// The matrix-vector product <c>out = W x</c>, the kernel that dominates decode. Square sizes from cache-resident
/// (64: stories260K's width; 288 and 768: the 15M and 110M widths) to well past the last-level cache (4096 =
/// 64 MB of weights), so both the arithmetic and the memory-streaming regimes show. Compares the bare
/// single-threaded kernel with the pooled product decode uses (2 threads).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public unsafe class MatVecBenchmarks
{
    private float* _w;
    private float* _x;
    private float* _out;
    private int _n;
    private WorkerPool? _pool;
    private MatVec? _matVec;

    /// <summary>Rows and columns of the matrix.</summary>
    [Params(64, 288, 768, 2048, 4096)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _n = N;
        // 64-byte aligned like the runtime's own buffers (NativeBuffer), so vector loads never split cache lines.
        _w = Allocate((long)_n * _n);
        _x = Allocate(_n);
        _out = Allocate(_n);
        var rng = new Random(1);
        for (long i = 0; i < (long)_n * _n; i++) _w[i] = rng.NextSingle() - 0.5f;
        for (int i = 0; i < _n; i++) _x[i] = rng.NextSingle() - 0.5f;
        _pool = new WorkerPool(2);
        _matVec = new MatVec(_pool);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        NativeMemory.AlignedFree(_w);
        NativeMemory.AlignedFree(_x);
        NativeMemory.AlignedFree(_out);
        _w = _x = _out = null;
    }

    /// <summary>The SIMD kernel alone on the calling thread: the per-thread ceiling.</summary>
    [Benchmark(Baseline = true)]
    public void RowsSingleThread() => DotKernels.Rows(_w, _n, _x, _out, 0, _n);

    /// <summary>
    /// <see cref="MatVec"/> on a 2-thread <see cref="WorkerPool"/>, as a session with <c>Threads = 2</c> runs it.
    /// Below <see cref="MatVec.ParallelThreshold"/> multiply-adds (N = 64) it stays on the calling thread, so
    /// that row shows only the call overhead.
    /// </summary>
    [Benchmark]
    public void MatVecTwoThreads() =>
        _matVec!.Run(new Span<float>(_out, _n), new ReadOnlySpan<float>(_x, _n), new Matrix(_w, _n, _n));

    private static float* Allocate(long count) => (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);

    /// <summary>Adds the achieved weight bandwidth (N² floats read per product).</summary>
    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new BandwidthColumn(c => c.Parameters[nameof(N)] is int n ? 4L * n * n : null));
    }
}
