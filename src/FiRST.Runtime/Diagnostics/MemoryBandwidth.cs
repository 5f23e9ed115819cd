using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FiRST.Runtime.Kernels;

namespace FiRST.Runtime.Diagnostics;

/// <summary>One way of reading memory and the rate it reached.</summary>
/// <param name="Streams">Sequential streams each thread reads in lockstep (its share split into this many ranges).</param>
/// <param name="VectorBits">Width of each load.</param>
/// <param name="BytesPerSecond">Median rate over the probe's repeats.</param>
internal readonly record struct ReadPattern(int Streams, int VectorBits, double BytesPerSecond)
{
    /// <summary>For example "4 streams per thread, 512-bit loads".</summary>
    public override string ToString() => $"{Streams} stream{(Streams == 1 ? "" : "s")} per thread, {VectorBits}-bit loads";
}

/// <summary>
/// Measures this machine's streaming read bandwidth: the ceiling for decode, which reads every weight once
/// per token. Reads a buffer far larger than the caches with the same thread count as inference, in several
/// patterns, and keeps the fastest.
/// </summary>
/// <remarks>
/// One sequential stream per thread with 256-bit loads reported 30 to 32 GB/s here while the 110M model's
/// decode read its weights at 42 to 50 GB/s in good rounds: decode's kernels read four to sixteen rows at once,
/// and more concurrent streams keep more cache-line fills in flight than one stream's prefetcher does. So the
/// probe tries one to eight streams per thread and both vector widths, and a bandwidth share is taken against
/// the best of the probe and decode itself (<see cref="Ceiling"/>): a share above 100% meant the probe, not decode,
/// was wrong.
/// </remarks>
internal static unsafe class MemoryBandwidth
{
    private static readonly int[] StreamCounts = [1, 2, 4, 8];

    /// <summary>
    /// Every pattern's median rate over <paramref name="repeats"/> full reads of a <paramref name="bytes"/> buffer.
    /// The median, as for the decode timings it is set against: on a shared virtual machine single runs swing
    /// by half in both directions.
    /// </summary>
    public static IReadOnlyList<ReadPattern> Probe(int threads, long bytes = 512L << 20, int repeats = 7)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        // Whole 64-float lines for every stream of every thread.
        long unit = 64L * threads * StreamCounts[^1];
        long floats = Math.Max(unit, bytes / sizeof(float) / unit * unit);
        float* buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        try
        {
            // Touch every page first so the measurement sees memory, not page faults.
            for (long p = 0; p < floats; p += int.MaxValue / 2)
                new Span<float>(buffer + p, (int)Math.Min(floats - p, int.MaxValue / 2)).Fill(1f);
            using var pool = new WorkerPool(threads);
            var results = new List<ReadPattern>();
            int[] widths = Vector512.IsHardwareAccelerated ? [256, 512] : [256];
            var rates = new double[repeats];
            foreach (int streams in StreamCounts)
                foreach (int bits in widths)
                {
                    var job = new ReadJob(buffer, floats / threads, streams, bits);
                    for (int r = 0; r < repeats; r++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        pool.RunTeam(job);
                        rates[r] = floats * sizeof(float) / Stopwatch.GetElapsedTime(start).TotalSeconds;
                    }
                    GC.KeepAlive(job.Sink);
                    Array.Sort(rates);
                    results.Add(new ReadPattern(streams, bits, rates[repeats / 2]));
                }
            return results;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>
    /// The rate a bandwidth share is taken against: the faster of the probe and the best a decode run achieved,
    /// since a measured read rate is a lower bound on what the memory can do.
    /// </summary>
    public static double Ceiling(double probeBytesPerSecond, double decodeBytesPerSecond) => Math.Max(probeBytesPerSecond, decodeBytesPerSecond);

    /// <summary>Each thread reads its own contiguous share, split into <c>streams</c> ranges read side by side.</summary>
    private sealed class ReadJob(float* buffer, long perThread, int streams, int bits) : ParallelJob
    {
        public float Sink;

        public override void Execute(int start, int end)
        {
            float* share = buffer + start * perThread;
            long length = perThread / streams; // a multiple of 64 floats: see Probe
            float sum = bits == 512 ? Read512(share, length, streams) : Read256(share, length, streams);
            // Racy on purpose: the sum only keeps the loads from being optimised away.
            Sink += sum;
        }

        // Eight cache lines per iteration in every pattern, spread over the streams: the same work per
        // iteration, so only the number of concurrent sequential streams differs.
        private static float Read512(float* p, long length, int streams)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            long s = length;
            switch (streams)
            {
                case 1:
                    for (long i = 0; i < length; i += 128)
                    {
                        a0 += Vector512.LoadAligned(p + i); a1 += Vector512.LoadAligned(p + i + 16);
                        a2 += Vector512.LoadAligned(p + i + 32); a3 += Vector512.LoadAligned(p + i + 48);
                        a4 += Vector512.LoadAligned(p + i + 64); a5 += Vector512.LoadAligned(p + i + 80);
                        a6 += Vector512.LoadAligned(p + i + 96); a7 += Vector512.LoadAligned(p + i + 112);
                    }
                    break;
                case 2:
                    for (long i = 0; i < length; i += 64)
                    {
                        a0 += Vector512.LoadAligned(p + i); a1 += Vector512.LoadAligned(p + i + 16);
                        a2 += Vector512.LoadAligned(p + i + 32); a3 += Vector512.LoadAligned(p + i + 48);
                        a4 += Vector512.LoadAligned(p + s + i); a5 += Vector512.LoadAligned(p + s + i + 16);
                        a6 += Vector512.LoadAligned(p + s + i + 32); a7 += Vector512.LoadAligned(p + s + i + 48);
                    }
                    break;
                case 4:
                    for (long i = 0; i < length; i += 32)
                    {
                        a0 += Vector512.LoadAligned(p + i); a1 += Vector512.LoadAligned(p + i + 16);
                        a2 += Vector512.LoadAligned(p + s + i); a3 += Vector512.LoadAligned(p + s + i + 16);
                        a4 += Vector512.LoadAligned(p + 2 * s + i); a5 += Vector512.LoadAligned(p + 2 * s + i + 16);
                        a6 += Vector512.LoadAligned(p + 3 * s + i); a7 += Vector512.LoadAligned(p + 3 * s + i + 16);
                    }
                    break;
                default:
                    for (long i = 0; i < length; i += 16)
                    {
                        a0 += Vector512.LoadAligned(p + i); a1 += Vector512.LoadAligned(p + s + i);
                        a2 += Vector512.LoadAligned(p + 2 * s + i); a3 += Vector512.LoadAligned(p + 3 * s + i);
                        a4 += Vector512.LoadAligned(p + 4 * s + i); a5 += Vector512.LoadAligned(p + 5 * s + i);
                        a6 += Vector512.LoadAligned(p + 6 * s + i); a7 += Vector512.LoadAligned(p + 7 * s + i);
                    }
                    break;
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
        }

        private static float Read256(float* p, long length, int streams)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            // Per stream: lines at a time; 2 loads of 256 bits make a 64-byte line.
            int lines = 8 / streams;
            for (long i = 0; i < length; i += 16L * lines)
                for (int k = 0; k < streams; k++)
                {
                    float* q = p + k * length + i;
                    for (int l = 0; l < lines; l += 2)
                    {
                        a0 += Vector256.LoadAligned(q + 16 * l); a1 += Vector256.LoadAligned(q + 16 * l + 8);
                        if (l + 1 < lines)
                        {
                            a2 += Vector256.LoadAligned(q + 16 * l + 16); a3 += Vector256.LoadAligned(q + 16 * l + 24);
                        }
                    }
                }
            return Vector256.Sum(a0 + a1 + a2 + a3);
        }
    }
}
