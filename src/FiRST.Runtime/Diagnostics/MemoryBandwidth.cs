using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FiRST.Runtime.Kernels;

namespace FiRST.Runtime.Diagnostics;

/// <summary>
/// Measures this machine's streaming read bandwidth: the ceiling for decode, which reads every weight once
/// per token. Reads a buffer far larger than the caches with the same thread count as inference.
/// </summary>
internal static unsafe class MemoryBandwidth
{
    /// <summary>
    /// Median of <paramref name="repeats"/> full reads of a <paramref name="bytes"/> buffer, in bytes per second.
    /// The median, as for the decode timings it is set against: on a shared virtual machine single runs
    /// swing by half in both directions.
    /// </summary>
    public static double Measure(int threads, long bytes = 512L << 20, int repeats = 7)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        long floats = bytes / sizeof(float) / 64 * 64;
        float* buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        try
        {
            // Touch every page first so the measurement sees memory, not page faults.
            new Span<float>(buffer, (int)Math.Min(floats, int.MaxValue)).Fill(1f);
            using var pool = new WorkerPool(threads);
            var job = new ReadJob(buffer);
            const int blockFloats = 1 << 16;
            int blocks = (int)(floats / blockFloats);
            var rates = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                long start = Stopwatch.GetTimestamp();
                pool.Run(job, blocks);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                rates[r] = (double)blocks * blockFloats * sizeof(float) / seconds;
            }
            GC.KeepAlive(job.Sink);
            Array.Sort(rates);
            return rates[repeats / 2];
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    private sealed class ReadJob(float* buffer) : ParallelJob
    {
        public float Sink;

        public override void Execute(int start, int end)
        {
            const int blockFloats = 1 << 16;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (long p = (long)start * blockFloats; p < (long)end * blockFloats; p += 32)
            {
                float* q = buffer + p;
                a0 += Vector256.LoadAligned(q);
                a1 += Vector256.LoadAligned(q + 8);
                a2 += Vector256.LoadAligned(q + 16);
                a3 += Vector256.LoadAligned(q + 24);
            }
            Sink += Vector256.Sum(a0 + a1 + a2 + a3);
        }
    }
}
