using static FiRST.Benchmarks.PairedStatistics;
using System.Diagnostics;
using FiRST.Runtime;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Paths;

namespace FiRST.Benchmarks;

/// <summary>
/// Generated path against the generic masked loop, measured as a paired comparison: each round times one
/// decode run on each (32 greedy steps from a reset session, the order alternating), so both see the same
/// machine state, and the per-round ratios are summarised by their median with a distribution-free 95%
/// confidence interval. On a shared 2-core machine separate BenchmarkDotNet cases drift by more than the
/// paths differ; pairing cancels the drift. Run with <c>-- paths [--rounds N]</c>.
/// </summary>
internal static class PathComparison
{
    private const int Steps = 32;

    /// <summary>Measures every task of the embedded model's profile and of the stories260K test profile.</summary>
    public static int Run(string[] args)
    {
        int rounds = 2000;
        for (int i = 0; i < args.Length - 1; i++)
            if (args[i] == "--rounds" && (!int.TryParse(args[i + 1], out rounds) || rounds < 20))
            {
                Console.Error.WriteLine($"--rounds must be a whole number of at least 20, got '{args[i + 1]}'");
                return 2;
            }
        string root = BenchmarkModels.RepoRoot() ?? throw new InvalidOperationException("run the benchmarks inside the repository");

        Console.WriteLine($"Generated path vs generic masked loop: {rounds} paired rounds of {Steps} decode steps, 1 thread.");
        Console.WriteLine();
        Console.WriteLine("| model | task | layers kept | generic µs/step | generated µs/step | generated / generic (median, 95% CI) | gain |");
        Console.WriteLine("|---|---|---:|---:|---:|---|---:|");
        using (var demo = LlamaModel.Load(Path.Combine(root, "models", "demo", "model.bin")))
            foreach (DemoProfile.Task task in Enum.GetValues<DemoProfile.Task>())
                Report("embedded", task.ToString(), demo, DemoProfile.PathFor(task), rounds);

        string stories = Path.Combine(root, "..", "shared", "models", "stories260K.bin");
        if (File.Exists(stories))
        {
            using var model = LlamaModel.Load(stories, Stories260KProfile.LoadOptions());
            foreach (Stories260KProfile.Task task in Enum.GetValues<Stories260KProfile.Task>())
                Report("stories260K", task.ToString(), model, Stories260KProfile.PathFor(task), rounds);
        }
        else Console.WriteLine($"(stories260K skipped: {stories} not found)");
        return 0;
    }

    private static void Report(string model, string task, LlamaModel weights, IDecodePath path, int rounds)
    {
        using var session = weights.CreateSession(new SessionOptions { Mask = path.Mask, Threads = 1 });
        if (session.DecodePath is not MaskedPath) throw new InvalidOperationException("expected the generic masked path");
        var generic = new double[rounds];
        var generated = new double[rounds];
        var ratio = new double[rounds];
        for (int w = 0; w < 200; w++) { Time(session, null); Time(session, path); } // JIT tiers and caches settle
        for (int r = 0; r < rounds; r++)
        {
            // Alternate which runs first, so neither always finds the caches as the other left them.
            if (r % 2 == 0) { generic[r] = Time(session, null); generated[r] = Time(session, path); }
            else { generated[r] = Time(session, path); generic[r] = Time(session, null); }
            ratio[r] = generated[r] / generic[r];
        }
        var (median, low, high) = MedianWithInterval(ratio);
        string kept = $"{path.Mask.KeptCount}/{path.Mask.LayerCount}";
        Console.WriteLine($"| {model} | {task} | {kept} | {Median(generic):F1} | {Median(generated):F1} | {median:F3} ({low:F3} – {high:F3}) | {1 - median:P1} |");
    }

    /// <summary>Microseconds per step of one run of <see cref="Steps"/> greedy steps from a reset session.</summary>
    private static double Time(InferenceSession s, IDecodePath? path)
    {
        s.Reset();
        int token = 1;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < Steps; i++) token = Ops.ArgMax(path is null ? s.Forward(token) : s.Forward(token, path));
        double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds / Steps;
        return token < 0 ? -us : us; // uses the token, so the loop cannot be dropped
    }
}
