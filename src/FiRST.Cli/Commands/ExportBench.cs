using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Diagnostics;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first bench --export DIR</c>: a one-task build from <c>first export</c>, as its users start it. Interleaved
/// rounds of cold processes: the published NativeAOT executable, the same program under the JIT (its build
/// output), and <c>first generate</c> on the full model file; then each exported program answering hundreds of
/// times in one process, for the steady state of the same generated path compiled ahead of time and by the JIT.
/// </summary>
internal static partial class ExportBench
{
    private const int SteadyRepeats = 300;

    public static ExportBenchResult Measure(string dir, string? prompt, int rounds, TextWriter progress, CancellationToken ct)
    {
        string csproj = Directory.GetFiles(dir, "*.csproj").FirstOrDefault() ?? throw new ArgumentException($"{dir} holds no project; give the directory 'first export' wrote");
        var project = XDocument.Load(csproj);
        string name = project.Descendants("AssemblyName").FirstOrDefault()?.Value ?? Path.GetFileNameWithoutExtension(csproj);
        string task = project.Descendants("FiRSTTask").FirstOrDefault()?.Value ?? throw new ArgumentException($"{csproj} names no FiRSTTask; was it written by 'first export'?");
        string output = Path.Combine(dir, "bin", "Release", "net10.0", RuntimeInformation.RuntimeIdentifier);
        // The build output beside publish/ is the same program as IL, run by the JIT (dotnet NAME.dll).
        string aot = Path.Combine(output, "publish", name), jit = Path.Combine(output, name + ".dll");
        foreach (string exe in new[] { aot, jit })
            if (!File.Exists(exe)) throw new ArgumentException($"{exe} is missing: run 'dotnet publish {dir} -c Release' first");
        prompt ??= TaskGenerator.Standard.FirstOrDefault(g => g.Name == task)?.Example?.Prompt
                   ?? throw new ArgumentException($"give --prompt: task '{task}' is not one of the embedded model's, so there is no example");

        string first = Path.Combine(AppContext.BaseDirectory, "first.dll");
        var contenders = new (string Name, string File, string[] Args, int Echo)[]
        {
            ("one-task binary (NativeAOT)", aot, [prompt, "--threads", "1"], 0),
            ("the same program under the JIT", "dotnet", [jit, prompt, "--threads", "1"], 0),
            // first generate echoes the prompt before the answer: the first answer byte comes after it.
            ("first generate (JIT, full model file)", "dotnet", [first, "generate", "--prompt", prompt, "--temperature", "0", "--threads", "1", "--task", task], prompt.Length),
        };
        var firstByte = contenders.Select(_ => new double[rounds]).ToArray();
        var wall = contenders.Select(_ => new double[rounds]).ToArray();
        var peak = contenders.Select(_ => new double[rounds]).ToArray();
        string[] answers = new string[contenders.Length];
        for (int r = -1; r < rounds; r++) // round -1 warms the file cache and is not counted
        {
            for (int k = 0; k < contenders.Length; k++)
            {
                ct.ThrowIfCancellationRequested();
                int i = (Math.Max(0, r) + k) % contenders.Length;
                var c = contenders[i];
                var run = Cold(c.File, c.Args, c.Echo);
                if (r < 0)
                {
                    answers[i] = run.Answer;
                    continue;
                }
                firstByte[i][r] = run.FirstByteMs;
                wall[i][r] = run.WallMs;
                peak[i][r] = run.PeakKb;
            }
            if (r >= 0) progress.Write($"\rexport bench: cold round {r + 1}/{rounds}   ");
        }
        progress.WriteLine();

        // Steady state: the same generated path, ahead of time and under the JIT, interleaved.
        int steadyRounds = Math.Max(3, rounds / 3);
        var steady = new[] { new double[steadyRounds], new double[steadyRounds] };
        for (int r = 0; r < steadyRounds; r++)
        {
            for (int k = 0; k < 2; k++)
            {
                ct.ThrowIfCancellationRequested();
                int i = (r + k) % 2;
                string[] args = [prompt, "--threads", "1", "--repeat", SteadyRepeats.ToString(CultureInfo.InvariantCulture)];
                string stderr = (i == 0 ? Cold(aot, args, 0) : Cold("dotnet", [jit, .. args], 0)).Stderr;
                var m = SteadyLine().Match(stderr);
                if (!m.Success) throw new InvalidOperationException($"{(i == 0 ? aot : jit)} printed no steady-state line: {stderr}");
                steady[i][r] = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            progress.Write($"\rexport bench: steady round {r + 1}/{steadyRounds}   ");
        }
        progress.WriteLine();

        string weights = Path.Combine(dir, "model.safetensors");
        var rows = contenders.Select((c, i) => new ExportBenchRow
        {
            Program = c.Name,
            Answer = answers[i],
            FirstAnswerByteMs = Stat(firstByte[i]),
            WallMs = Stat(wall[i]),
            PeakResidentKb = Stat(peak[i]),
            SteadyMsPerToken = i < 2 ? Stat(steady[i]) : null,
            ExecutableBytes = i == 0 ? new FileInfo(aot).Length : null,
        }).ToArray();
        return new ExportBenchResult
        {
            Directory = dir,
            Task = task,
            Prompt = prompt,
            Machine = Machine.Describe(),
            Rounds = rounds,
            SteadyRounds = steadyRounds,
            SteadyRepeats = SteadyRepeats,
            WeightFileBytes = new FileInfo(weights).Length,
            FullModelBytes = new FileInfo(CommonOptions.DefaultModelPath).Length,
            Rows = rows,
            SteadyAotOverJit = Stat(steady[0].Zip(steady[1], (a, j) => j / a).ToArray()),
        };
    }

    public static void Print(TextWriter o, ExportBenchResult r)
    {
        o.WriteLine($"one-task build {r.Directory}: task '{r.Task}', prompt \"{r.Prompt}\"");
        o.WriteLine($"machine  {r.Machine}; 1 thread; {r.Rounds} interleaved rounds of cold processes; medians, [min, max]");
        o.WriteLine($"weights  model.safetensors {r.WeightFileBytes / 1e6:F1} MB (the task's layers), full model file {r.FullModelBytes / 1e6:F1} MB");
        o.WriteLine();
        o.WriteLine("| program | executable | start to first answer byte | whole run | peak resident | steady ms/token | answer |");
        o.WriteLine("|---|---:|---|---|---|---|---|");
        foreach (var w in r.Rows)
            o.WriteLine($"| {w.Program} | {(w.ExecutableBytes is { } b ? $"{b / 1e6:F1} MB" : "-")} | {Ms(w.FirstAnswerByteMs)} | {Ms(w.WallMs)} | " +
                        $"{w.PeakResidentKb.Median / 1000:F1} MB [{w.PeakResidentKb.Min / 1000:F1}, {w.PeakResidentKb.Max / 1000:F1}] | " +
                        $"{(w.SteadyMsPerToken is { } s ? $"{s.Median:F4} [{s.Min:F4}, {s.Max:F4}]" : "-")} | {w.Answer} |");
        o.WriteLine();
        o.WriteLine($"steady state, JIT time over NativeAOT time per token: {r.SteadyAotOverJit.Median:F2}x [{r.SteadyAotOverJit.Min:F2}, {r.SteadyAotOverJit.Max:F2}] " +
                    $"({r.SteadyRounds} interleaved rounds, each the median of the last {r.SteadyRepeats / 2} of {r.SteadyRepeats} answers in one process)");
        var binary = r.Rows[0];
        o.WriteLine($"peak resident of the binary over its weight file: {binary.PeakResidentKb.Median * 1000 / r.WeightFileBytes:F2}x");
    }

    private static string Ms(Spread s) => FormattableString.Invariant($"{s.Median:F1} ms [{s.Min:F1}, {s.Max:F1}]");

    private static Spread Stat(double[] values) => new(PairedStatistics.Median(values), values.Min(), values.Max());

    private readonly record struct ColdRun(double FirstByteMs, double WallMs, double PeakKb, string Answer, string Stderr);

    /// <summary>
    /// Starts a process and times, from just before the start, the first byte of its answer (the first stdout
    /// byte after <paramref name="echo"/> echoed bytes) and its exit. Peak resident memory is what the program
    /// reports itself (exported programs print it), else the largest VmHWM sampled while it runs.
    /// </summary>
    private static ColdRun Cold(string file, string[] args, int echo)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        double firstByte = 0, sampledKb = 0;
        var stdout = new List<byte>();
        var reader = process.StandardOutput.BaseStream;
        var buffer = new byte[256];
        var read = reader.ReadAsync(buffer, 0, buffer.Length);
        while (true)
        {
            // Sample the high-water mark while waiting for output, so a process that reports none still gets one.
            if (!read.Wait(1))
            {
                sampledKb = Math.Max(sampledKb, HighWaterKb(process.Id));
                continue;
            }
            int n = read.Result;
            if (n == 0) break;
            if (firstByte == 0 && stdout.Count + n > echo) firstByte = clock.Elapsed.TotalMilliseconds;
            stdout.AddRange(buffer.AsSpan(0, n).ToArray());
            sampledKb = Math.Max(sampledKb, HighWaterKb(process.Id));
            read = reader.ReadAsync(buffer, 0, buffer.Length);
        }
        process.WaitForExit();
        double wall = clock.Elapsed.TotalMilliseconds;
        string err = stderr.Result;
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {err}");
        var reported = PeakLine().Match(err);
        double kb = reported.Success ? double.Parse(reported.Groups[1].Value, CultureInfo.InvariantCulture) : sampledKb;
        string text = System.Text.Encoding.UTF8.GetString([.. stdout]);
        return new ColdRun(firstByte, wall, kb, text[Math.Min(echo, text.Length)..].Trim(), err);
    }

    private static double HighWaterKb(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    [GeneratedRegex(@"steady: ([0-9.]+) ms/token")]
    private static partial Regex SteadyLine();

    [GeneratedRegex(@"peak RSS: ([0-9]+) kB")]
    private static partial Regex PeakLine();
}

/// <summary>A median with the smallest and largest value.</summary>
internal readonly record struct Spread(double Median, double Min, double Max);

internal sealed record ExportBenchResult
{
    public required string Directory { get; init; }
    public required string Task { get; init; }
    public required string Prompt { get; init; }
    public required string Machine { get; init; }
    public required int Rounds { get; init; }
    public required int SteadyRounds { get; init; }
    public required int SteadyRepeats { get; init; }
    public required long WeightFileBytes { get; init; }
    public required long FullModelBytes { get; init; }
    public required ExportBenchRow[] Rows { get; init; }
    public required Spread SteadyAotOverJit { get; init; }
}

internal sealed record ExportBenchRow
{
    public required string Program { get; init; }
    public required string Answer { get; init; }
    public required Spread FirstAnswerByteMs { get; init; }
    public required Spread WallMs { get; init; }
    public required Spread PeakResidentKb { get; init; }
    public Spread? SteadyMsPerToken { get; init; }
    public long? ExecutableBytes { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ExportBenchResult))]
internal sealed partial class ExportBenchJson : JsonSerializerContext;
