using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using FiRST.Cli.Charts;
using FiRST.Runtime;
using FiRST.Runtime.Diagnostics;
using FiRST.Runtime.Sampling;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first bench</c>: prefill and decode speed of a model on this machine, set against the machine's
/// measured memory bandwidth (decode reads every weight once per token, so bandwidth is its ceiling).
/// With <c>--paths</c>, the compiled task paths against the generic loop instead (<see cref="PathBench"/>).
/// </summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = CommonOptions.ModelOrDefault();
        var quant = CommonOptions.Quant();
        var threads = new Option<int>("--threads") { Description = "Threads per kernel", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps", "-n") { Description = "Decode steps per run", DefaultValueFactory = _ => 64 };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length for the prefill measurement", DefaultValueFactory = _ => 128 };
        var runs = new Option<int>("--runs") { Description = "Runs; medians are reported", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };
        var paths = new Option<bool>("--paths") { Description = "Compare each task's compiled path with the generic loop on its mask and with the full model (paired rounds)" };
        var profile = new Option<string?>("--profile") { Description = "With --paths or --speculate: the profile whose tasks to measure (default: the embedded model's)" };
        var rounds = new Option<int?>("--rounds") { Description = "With --paths, --speculate or --dispatch: paired rounds per task (default: 300 with --paths, 30 otherwise)" };
        var speculate = DecodingOptions.Speculate(
            "Self-speculation E:k on each task of the profile: the full model and the task's path, each with and without it, on the task's prompts (paired rounds); with --dispatch, the plan on the full model (default 3:4)");
        var dispatch = new Option<bool>("--dispatch") { Description = "The embedded model's table: per task, the full model, the task path, the routers' mask, early exit and self-speculation (paired rounds)" };
        var earlyExit = DecodingOptions.EarlyExit("With --dispatch: one early-exit threshold for every task (default: each task's calibrated thresholds from the profile)");
        var export = new Option<string?>("--export") { Description = "A one-task build from 'first export' (published): cold starts of its NativeAOT executable, the same program under the JIT and first generate, and their steady state (interleaved rounds)" };
        var prompt = new Option<string?>("--prompt") { Description = "With --export: the prompt each run answers (default: the task's example)" };
        var agreementPositions = new Option<int?>("--agreement-positions")
        {
            Description = "With --quant q8|q4: positions of random contexts whose greedy choice is compared with float32's, besides 200 greedy steps (default 512; 0 skips them; each costs a decode step of both models)",
        };
        var plots = new Option<string?>("--plots") { Description = "Also draw decode tokens/s by path into this folder (tokens-per-second.png and .svg); not with --export" };
        var command = new Command("bench", "Measure prefill and decode speed, bytes read per token and achieved memory bandwidth; with --paths, compiled task paths against the generic loop; with --speculate or --dispatch, decoding strategies on task prompts")
        {
            model, quant, threads, steps, promptTokens, runs, json, paths, profile, rounds, speculate, dispatch, earlyExit, export, prompt, plots, agreementPositions,
        };
        command.SetAction((parse, ct) =>
        {
            try
            {
                return Task.FromResult(Run(parse, ct));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The charts are drawn from a finished measurement only.
                CliErrors.NotWritten(error, parse.GetValue(plots));
                throw;
            }
        });
        return command;

        int Run(ParseResult parse, CancellationToken ct)
        {
            bool byPaths = parse.GetValue(paths), byDispatch = parse.GetValue(dispatch);
            string? plan = parse.GetValue(speculate);
            if ((byPaths ? 1 : 0) + (byDispatch ? 1 : 0) + (plan is not null && !byDispatch ? 1 : 0) > 1)
                throw new ArgumentException("give one of --paths, --speculate and --dispatch (--speculate with --dispatch sets the plan the table uses)");
            if (parse.GetValue(earlyExit) is not null && !byDispatch) throw new ArgumentException("--early-exit goes with --dispatch");
            if (parse.GetValue(prompt) is not null && parse.GetValue(export) is null) throw new ArgumentException("--prompt goes with --export");
            if (parse.GetValue(agreementPositions) is not null
                && (byPaths || byDispatch || plan is not null || parse.GetValue(export) is not null || parse.GetValue(quant) is not ("q8" or "q4")))
                throw new ArgumentException("--agreement-positions goes with --quant q8|q4 (a plain bench of quantized weights, compared with float32)");
            if (parse.GetValue(plots) is not null && parse.GetValue(export) is not null)
                throw new ArgumentException("--plots draws decode tokens/s by path; --export measures cold starts and memory, which it does not chart");
            if (parse.GetValue(export) is { } exported)
            {
                if (byPaths || byDispatch || plan is not null) throw new ArgumentException("--export measures a one-task build on its own; drop --paths, --speculate and --dispatch");
                var measured = ExportBench.Measure(exported, parse.GetValue(prompt), Positive(parse.GetValue(rounds) ?? 10, "--rounds"), error, ct);
                if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(measured, ExportBenchJson.Default.ExportBenchResult));
                else ExportBench.Print(output, measured);
                return 0;
            }
            if (byDispatch)
            {
                if (!CommonOptions.IsDefaultModel(parse.GetValue(model)!))
                    throw new ArgumentException("--dispatch measures the embedded model (its compiled paths and routers); --speculate --model M --profile P measures another");
                if (parse.GetValue(profile) is not null) throw new ArgumentException("--dispatch measures the embedded model's own tasks; --profile goes with --paths or --speculate");
                var measured = DispatchBench.Measure(CommonOptions.LoadOptions(parse.GetValue(quant)!), plan is null ? null : DecodingOptions.ParseSpeculation(plan),
                    parse.GetValue(earlyExit) is { } exitThreshold ? DecodingOptions.EnsureThreshold(exitThreshold) : null, Positive(parse.GetValue(threads), "--threads"),
                    Positive(parse.GetValue(rounds) ?? 30, "--rounds"), error, ct);
                if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(measured, DispatchBenchJson.Default.DispatchBenchResult));
                else DispatchBench.Print(output, measured);
                Draw(parse, "Decode tokens/s by decoding strategy (first bench --dispatch)", BenchChart.Values(measured));
                return 0;
            }
            if (plan is not null)
            {
                var parsed = DecodingOptions.ParseSpeculation(plan);
                string modelPath = parse.GetValue(model)!;
                var measured = SpeculationBench.Measure(modelPath, ProfileFor(parse.GetValue(profile), modelPath, "--speculate"), CommonOptions.LoadOptions(parse.GetValue(quant)!),
                    parsed, Positive(parse.GetValue(threads), "--threads"), Positive(parse.GetValue(rounds) ?? 30, "--rounds"), error, ct);
                if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(measured, SpeculationBenchJson.Default.SpeculationBenchResult));
                else SpeculationBench.Print(output, measured);
                Draw(parse, $"Decode tokens/s with and without speculation {measured.Speculate} (first bench --speculate)", BenchChart.Values(measured));
                return 0;
            }
            if (byPaths)
            {
                string modelPath = parse.GetValue(model)!;
                string profilePath = ProfileFor(parse.GetValue(profile), modelPath, "--paths");
                int stepsPerRound = Math.Min(Positive(parse.GetValue(steps), "--steps"), 32);
                var measured = PathBench.Measure(modelPath, profilePath, CommonOptions.LoadOptions(parse.GetValue(quant)!), Positive(parse.GetValue(threads), "--threads"),
                    Math.Max(20, Positive(parse.GetValue(rounds) ?? 300, "--rounds")), stepsPerRound, error, ct);
                if (parse.GetValue(json)) output.WriteLine(System.Text.Json.JsonSerializer.Serialize(measured, PathBenchJson.Default.PathBenchResult));
                else PathBench.Print(output, measured);
                Draw(parse, "Decode tokens/s by path (first bench --paths)", BenchChart.Values(measured));
                return 0;
            }
            int positions = parse.GetValue(agreementPositions) ?? 512;
            if (positions < 0) throw new ArgumentException($"--agreement-positions must be at least 0, got {positions}");
            int t = Positive(parse.GetValue(threads), "--threads");
            int n = Positive(parse.GetValue(steps), "--steps");
            int p = Positive(parse.GetValue(promptTokens), "--prompt-tokens");
            int r = Positive(parse.GetValue(runs), "--runs");
            string path = parse.GetValue(model)!;

            error.WriteLine($"loading {path}");
            using var llama = LlamaModel.Load(path, CommonOptions.LoadOptions(parse.GetValue(quant)!));
            var result = Measure(llama, t, n, p, r, error, ct);
            if (parse.GetValue(quant) is "q8" or "q4")
            {
                // Quantized at load: set it against the weights as stored, unless the file was int8 already.
                using var reference = LlamaModel.Load(path);
                if (!reference.Weights.IsQuantized)
                {
                    ct.ThrowIfCancellationRequested();
                    error.WriteLine("comparing with the float32 weights");
                    result = result with { Quantization = QuantizationQuality.Compare(reference, llama, Math.Min(200, llama.Config.MaxSeqLen), t, randomContextSteps: positions) };
                }
            }
            ct.ThrowIfCancellationRequested();
            error.WriteLine("measuring memory bandwidth");
            var patterns = MemoryBandwidth.Probe(t);
            var best = patterns.MaxBy(p => p.BytesPerSecond);
            result = result with
            {
                MemoryBandwidthGBs = best.BytesPerSecond / 1e9,
                ProbePattern = best.ToString(),
                ProbePatterns = [.. patterns.Select(p => FormattableString.Invariant($"{p}: {p.BytesPerSecond / 1e9:F2} GB/s"))],
            };
            if (parse.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(result, BenchJson.Default.BenchResult));
            else Print(output, result);
            Draw(parse, "Decode tokens/s (first bench)", BenchChart.Values(result));
            return 0;
        }

        // The chart's "wrote" lines go where the table would; with --json to stderr, so stdout stays one JSON object.
        void Draw(ParseResult parse, string title, IReadOnlyList<GroupedBars.Value> values)
        {
            if (parse.GetValue(plots) is not { } dir) return;
            var to = parse.GetValue(json) ? error : output;
            foreach (string file in BenchChart.Write(title, values, dir)) to.WriteLine($"wrote {file}");
        }
    }

    /// <summary>The profile given, or the embedded model's when it runs.</summary>
    private static string ProfileFor(string? profile, string modelPath, string mode) =>
        profile ?? (CommonOptions.IsDefaultModel(modelPath)
            ? Path.Combine(AppContext.BaseDirectory, "demo", "model.first.json")
            : throw new ArgumentException($"{mode} on a model other than the embedded one needs --profile"));

    private static int Positive(int value, string name) =>
        value >= 1 ? value : throw new ArgumentException($"{name} must be at least 1, got {value}");

    /// <summary>
    /// Median prefill and decode speed over <paramref name="runs"/> runs after a warm-up; cancelled, it stops within
    /// a token (<see cref="RunCancelledException"/> says how many runs were done; each printed its line).
    /// </summary>
    internal static BenchResult Measure(LlamaModel model, int threads, int steps, int promptTokens, int runs, TextWriter progress,
                                        CancellationToken cancellationToken = default)
    {
        var c = model.Config;
        promptTokens = Math.Min(promptTokens, c.MaxSeqLen / 2);
        steps = Math.Min(steps, c.MaxSeqLen - promptTokens);
        var rng = new Random(1234);
        var prompt = new int[promptTokens];
        for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.Next(c.VocabSize);

        using var session = model.CreateSession(new SessionOptions { Threads = threads });
        var prefill = new double[runs];
        var decode = new double[runs];
        int done = 0;
        try
        {
            for (int run = -1; run < runs; run++) // run -1 warms up caches and code
            {
                session.Reset();
                long start = Stopwatch.GetTimestamp();
                int token = Greedy.ArgMax(session.Prefill(prompt, cancellationToken));
                double prefillSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                start = Stopwatch.GetTimestamp();
                Greedy.Steps(session, token, steps, cancellationToken);
                double decodeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (run < 0) continue;
                prefill[run] = promptTokens / prefillSeconds;
                decode[run] = decodeSeconds * 1000 / steps;
                done = run + 1;
                progress.Write($"\rrun {run + 1}/{runs}: prefill {prefill[run]:F1} tok/s, decode {decode[run]:F3} ms/token   ");
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RunCancelledException(done, runs, "runs", cancellationToken);
        }
        finally
        {
            progress.WriteLine(); // ends the progress line, also when cancelled
        }

        double msPerToken = Median(decode);
        long bytes = WeightBytesPerToken(model);
        return new BenchResult
        {
            Model = model.Path,
            Threads = threads,
            PromptTokens = promptTokens,
            DecodeSteps = steps,
            Runs = runs,
            PrefillTokensPerSecond = Median(prefill),
            DecodeTokensPerSecond = 1000 / msPerToken,
            MsPerToken = msPerToken,
            WeightBytesPerToken = bytes,
            Weights = model.Weights.FormatName,
            GroupSize = model.Weights.GroupSize,
            AchievedGBs = bytes / (msPerToken / 1000) / 1e9,
            BestRunGBs = bytes / (decode.Min() / 1000) / 1e9,
        };
    }

    /// <summary>Bytes of weights one decode step reads: every kept layer, the final norm, the classifier and one embedding row.</summary>
    internal static long WeightBytesPerToken(LlamaModel model)
    {
        var w = model.Weights;
        long bytes = 0;
        foreach (var layer in w.Layers) bytes += layer?.Bytes ?? 0;
        return bytes + w.RmsFinal.Bytes + w.Classifier.Bytes + w.TokenEmbedding.Bytes / w.TokenEmbedding.Rows;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static void Print(TextWriter o, BenchResult r)
    {
        o.WriteLine($"model                  {r.Model}");
        o.WriteLine($"threads                {r.Threads}");
        o.WriteLine($"prefill                {r.PrefillTokensPerSecond,10:F1} tok/s   ({r.PromptTokens}-token prompt, median of {r.Runs})");
        o.WriteLine($"decode                 {r.DecodeTokensPerSecond,10:F1} tok/s   ({r.MsPerToken:F3} ms/token, {r.DecodeSteps} steps, median of {r.Runs})");
        o.WriteLine($"weights read per token {r.WeightBytesPerToken,10:N0} bytes ({r.Weights})");
        o.WriteLine($"achieved bandwidth     {r.AchievedGBs,10:F2} GB/s");
        o.WriteLine($"memory bandwidth       {r.MemoryBandwidthGBs,10:F2} GB/s   (read probe, {r.Threads} threads; fastest pattern: {r.ProbePattern})");
        o.WriteLine($"  every read pattern   {string.Join("; ", r.ProbePatterns)}");
        o.WriteLine($"fastest decode run     {r.BestRunGBs,10:F2} GB/s");
        o.WriteLine($"share of bandwidth     {r.BandwidthShare,10:P1}   (of {r.CeilingGBs:F2} GB/s, the faster of the probe and the fastest decode run)");
        if (r.Quantization is { } q)
        {
            o.WriteLine($"weights                {(r.Weights == "q4" ? "4-bit" : "int8")}, groups of {r.GroupSize}");
            o.WriteLine($"logits RMS error       {q.LogitsRmsError,10:F4}   (logits RMS {q.LogitsRms:F3}, {q.Steps} greedy steps vs float32)");
            o.WriteLine($"greedy agreement       {q.TeacherForcedAgreement,10:P1}   (same context; free-running {q.FreeRunningAgreement:P1}, first difference at token {q.FirstDivergence})");
            o.WriteLine($"  float32's greedy run {q.DistinctTokens,10} distinct tokens, {q.TokenChanges} changes of token: the steps that decide the agreement");
            if (q.RandomContextSteps > 0)
                o.WriteLine($"random-context agreement {q.RandomContextAgreement,8:P1}   ({q.RandomContextSteps} positions: runs of {QuantizationQuality.RandomContextRun} uniformly drawn tokens)");
        }
    }
}

/// <summary>What <c>first bench</c> measured.</summary>
internal sealed record BenchResult
{
    public string Model { get; init; } = "";
    public int Threads { get; init; }
    public int PromptTokens { get; init; }
    public int DecodeSteps { get; init; }
    public int Runs { get; init; }
    public double PrefillTokensPerSecond { get; init; }
    public double DecodeTokensPerSecond { get; init; }
    public double MsPerToken { get; init; }
    public long WeightBytesPerToken { get; init; }
    public double AchievedGBs { get; init; }
    /// <summary>The read probe's fastest pattern (<see cref="ProbePattern"/>).</summary>
    public double MemoryBandwidthGBs { get; init; }
    public string ProbePattern { get; init; } = "";
    /// <summary>Every pattern the probe tried, with its rate.</summary>
    public string[] ProbePatterns { get; init; } = [];
    /// <summary>Weights read per second by the fastest decode run.</summary>
    public double BestRunGBs { get; init; }
    public string Weights { get; init; } = "f32";
    public int GroupSize { get; init; }
    public QuantizationReport? Quantization { get; init; }
    /// <summary>What memory is known to deliver: a rate decode itself reached counts as much as the probe's.</summary>
    public double CeilingGBs => MemoryBandwidth.Ceiling(MemoryBandwidthGBs, BestRunGBs);
    public double BandwidthShare => CeilingGBs > 0 ? AchievedGBs / CeilingGBs : 0;
}

[System.Text.Json.Serialization.JsonSerializable(typeof(BenchResult))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class BenchJson : System.Text.Json.Serialization.JsonSerializerContext;
