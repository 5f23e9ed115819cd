using static FiRST.Runtime.Diagnostics.PairedStatistics;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Loading;

namespace FiRST.Benchmarks;

/// <summary>
/// The width-generic kernels (<see cref="DotKernels"/>, <see cref="Q8Kernels"/>) against the hand-written
/// 512- and 256-bit copies they replaced (<see cref="LegacyDotKernels"/>, <see cref="LegacyQ8Kernels"/>), as a
/// paired comparison: each round times the old and the new kernel on the same matrix, the order
/// alternating, and the per-round new/old ratios are summarised by their median with a distribution-free
/// 95% interval (as in `first bench --paths`; separate runs on a shared machine drift by more than
/// the kernels differ). One thread, the shapes of llama2.c's 110M and 15M models. Run with
/// <c>-- kernels [--rounds N]</c>; with <c>DOTNET_EnableAVX512=0</c> in the environment both sides take
/// their 256-bit path (.NET 10 ignores the older per-instruction-set <c>DOTNET_EnableAVX512F=0</c>: the
/// header line shows which path ran).
/// </summary>
internal static unsafe class KernelComparison
{
    /// <summary>Each timing covers at least this many weight bytes (repeating the call), so timer resolution is no factor.</summary>
    private const long BytesPerTiming = 4L << 20;

    public static int Run(string[] args)
    {
        if (Rounds(args, 1000) is not { } rounds) return 2;

        Console.WriteLine($"Width-generic kernels vs the former 512/256-bit copies: {rounds} paired rounds, 1 thread.");
        Console.WriteLine($"Vector512.IsHardwareAccelerated={Vector512.IsHardwareAccelerated}, Avx512F={Avx512F.IsSupported}, Avx2={Avx2.IsSupported}");
        Console.WriteLine();
        Console.WriteLine("| kernel | rows x cols | calls/timing | old µs/call | new µs/call | new / old (median, 95% CI) | min – max |");
        Console.WriteLine("|---|---|---:|---:|---:|---|---|");

        var owned = new List<IDisposable>();
        try
        {
            foreach (var (rows, cols) in new[] { (768, 768), (2048, 768), (768, 2048), (288, 288), (768, 288) })
            {
                float* w = RandomFloats(rows * (long)cols, 1, owned), x = RandomFloats(cols, 2, owned);
                float* o = RandomFloats(rows, 3, owned);
                Report("Dot.Rows", rows, cols, rounds, rows * (long)cols * 4,
                    () => LegacyDotKernels.Rows(w, cols, x, o, 0, rows), () => DotKernels.Rows(w, cols, x, o, 0, rows));
            }
            foreach (var (rows, cols) in new[] { (768, 768), (2048, 768), (32000, 288) })
            {
                float* w = RandomFloats(rows * (long)cols, 4, owned), x = RandomFloats(cols, 5, owned);
                float* o = RandomFloats(rows, 6, owned);
                Report("Dot.RowsStreaming", rows, cols, rounds, rows * (long)cols * 4,
                    () => LegacyDotKernels.RowsStreaming(w, cols, x, o, 0, rows), () => DotKernels.RowsStreaming(w, cols, x, o, 0, rows));
            }
            foreach (var (rows, cols, interleaved) in new[] { (768, 2048, true), (2048, 768, true), (768, 288, true), (768, 2048, false) })
            {
                Matrix m = Quantized(rows, cols, 32, interleaved, owned);
                float* x = RandomFloats(cols, 7, owned), o = RandomFloats(rows, 8, owned);
                Report(interleaved ? "Q8.Rows (interleaved)" : "Q8.Rows (row-major)", rows, cols, rounds, m.Bytes,
                    () => LegacyQ8Kernels.Rows(m, x, o, 0, rows), () => Q8Kernels.Rows(m, x, o, 0, rows));
            }
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
        return 0;
    }

    /// <summary>
    /// <c>-- bf16 [--rounds N]</c>: the same matrix as bfloat16 (old: float32) through <see cref="MatVec.Rows"/>, the
    /// dispatch decode uses, paired as above; one thread, 110M's and Llama 3.2 1B's matrix shapes.
    /// </summary>
    public static int RunBFloat16(string[] args)
    {
        if (Rounds(args, 200) is not { } rounds) return 2;
        Console.WriteLine($"bfloat16 vs float32 weights through MatVec.Rows: {rounds} paired rounds, 1 thread.");
        Console.WriteLine($"Vector512.IsHardwareAccelerated={Vector512.IsHardwareAccelerated}, Avx512F={Avx512F.IsSupported}, Avx2={Avx2.IsSupported}");
        Console.WriteLine();
        Console.WriteLine("| kernel | rows x cols | calls/timing | f32 µs/call | bf16 µs/call | bf16 / f32 (median, 95% CI) | min – max |");
        Console.WriteLine("|---|---|---:|---:|---:|---|---|");
        var owned = new List<IDisposable>();
        try
        {
            foreach (var (rows, cols) in new[] { (768, 768), (2048, 768), (768, 2048), (8192, 2048), (2048, 8192) })
            {
                float* w = RandomFloats(rows * (long)cols, 1, owned), x = RandomFloats(cols, 2, owned), o = RandomFloats(rows, 3, owned);
                var narrow = NativeBuffer.UShorts(rows * (long)cols);
                owned.Add(narrow);
                for (long i = 0; i < rows * (long)cols; i++) narrow.UShortData[i] = BFloat16Kernels.FromFloat(w[i]);
                var f32 = new Matrix(w, rows, cols);
                var bf16 = new Matrix(narrow.UShortData, rows, cols);
                Report("MatVec.Rows", rows, cols, rounds, f32.Bytes,
                    () => MatVec.Rows(f32, x, o, 0, rows), () => MatVec.Rows(bf16, x, o, 0, rows));
            }
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
        return 0;
    }

    /// <summary>
    /// <c>-- int8 [--rounds N]</c>: interleaved int8 weights times float32 activations (<see cref="Q8Kernels"/>, old)
    /// against times int8 activations (<see cref="Int8DotKernels"/>, new, the activations' quantization included),
    /// paired as above; one thread, 110M's matrix shapes and its classifier.
    /// </summary>
    public static int RunInt8(string[] args)
    {
        if (Rounds(args, 200) is not { } rounds) return 2;
        Console.WriteLine($"int8 weights: float32 activations (old) vs int8 activations (new): {rounds} paired rounds, 1 thread.");
        Console.WriteLine($"Avx512F={Avx512F.IsSupported}, Avx2={Avx2.IsSupported}, AvxVnni={AvxVnni.IsSupported}");
        Console.WriteLine();
        Console.WriteLine("| kernel | rows x cols | calls/timing | old µs/call | new µs/call | new / old (median, 95% CI) | min – max |");
        Console.WriteLine("|---|---|---:|---:|---:|---|---|");
        var owned = new List<IDisposable>();
        try
        {
            var activations = new Int8Activations(8192);
            foreach (var (rows, cols) in new[] { (768, 768), (2048, 768), (768, 2048), (32000, 768) })
            {
                Matrix m = Quantized(rows, cols, 32, true, owned);
                float* x = RandomFloats(cols, 7, owned), o = RandomFloats(rows, 8, owned);
                Report("int8 rows", rows, cols, rounds, m.Bytes,
                    () => Q8Kernels.Rows(m, x, o, 0, rows),
                    () => Int8DotKernels.Rows(m, activations.Quantize(x, cols, 32), x, o, 0, rows));
            }
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
        return 0;
    }

    /// <summary><c>--rounds N</c> (at least 20) or <paramref name="fallback"/>; null, with the error printed, when it is not a valid count.</summary>
    private static int? Rounds(string[] args, int fallback)
    {
        int rounds = fallback;
        for (int i = 0; i < args.Length - 1; i++)
            if (args[i] == "--rounds" && (!int.TryParse(args[i + 1], out rounds) || rounds < 20))
            {
                Console.Error.WriteLine($"--rounds must be a whole number of at least 20, got '{args[i + 1]}'");
                return null;
            }
        return rounds;
    }

    private static void Report(string kernel, int rows, int cols, int rounds, long bytes, Action old, Action @new)
    {
        int calls = (int)Math.Max(1, BytesPerTiming / bytes);
        var oldUs = new double[rounds];
        var newUs = new double[rounds];
        var ratio = new double[rounds];
        // Warm up for a second, not a count of calls: until tiering has replaced the first (tier-0 and
        // on-stack-replacement) code of both kernels with the final optimized code, short runs compare those.
        long warmStart = Stopwatch.GetTimestamp();
        for (int w = 0; w < 100 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < 1; w++) { Time(old, calls); Time(@new, calls); }
        for (int r = 0; r < rounds; r++)
        {
            // Alternate which runs first, so neither always finds the caches as the other left them.
            if (r % 2 == 0) { oldUs[r] = Time(old, calls); newUs[r] = Time(@new, calls); }
            else { newUs[r] = Time(@new, calls); oldUs[r] = Time(old, calls); }
            ratio[r] = newUs[r] / oldUs[r];
        }
        var (median, low, high) = MedianWithInterval(ratio);
        Console.WriteLine($"| {kernel} | {rows} x {cols} | {calls} | {Median(oldUs):F2} | {Median(newUs):F2} | {median:F3} ({low:F3} – {high:F3}) | {ratio.Min():F3} – {ratio.Max():F3} |");
    }

    /// <summary>Microseconds per call, over <paramref name="calls"/> calls.</summary>
    private static double Time(Action kernel, int calls)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++) kernel();
        return Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls;
    }

    private static float* RandomFloats(long count, int seed, List<IDisposable> owned)
    {
        var buffer = NativeBuffer.Floats(count);
        owned.Add(buffer);
        var rng = new Random(seed);
        for (long i = 0; i < count; i++) buffer.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return buffer.Data;
    }

    /// <summary>A random matrix quantized by the runtime's <see cref="Quantizer"/>, interleaved by <see cref="Q8Layout"/> when asked.</summary>
    private static Matrix Quantized(int rows, int cols, int groupSize, bool interleaved, List<IDisposable> owned)
    {
        var m = new Matrix(RandomFloats(rows * (long)cols, 9, owned), rows, cols);
        if (interleaved) return Quantizer.Quantize(m, groupSize, owned);
        var q = NativeBuffer.SBytes(m.Length);
        owned.Add(q);
        var s = NativeBuffer.Floats(m.Length / groupSize);
        owned.Add(s);
        Quantizer.Quantize(m.Data, m.Length, groupSize, q.SByteData, s.Data);
        return new Matrix(q.SByteData, s.Data, rows, cols, groupSize);
    }
}
