using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Diagnostics;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;

namespace FiRST.Cli.Commands;

/// <summary>One way of decoding a task's prompts that a paired benchmark measures.</summary>
/// <param name="Name">How the tables call it.</param>
/// <param name="Options">The session each generation run gets.</param>
internal sealed record TaskConfiguration(string Name, SessionOptions Options);

/// <summary>
/// Paired, interleaved rounds of real generation runs (<c>bench --speculate</c>, <c>bench --dispatch</c>): each
/// round answers the same few task prompts, greedily, with every configuration in turn (the order rotating),
/// so all of them see the same machine state and the same prompts. A round's time is the configurations'
/// decode time per token (<see cref="GenerationStats.DecodeMs"/> over its forward passes; prefill and
/// session set-up are not counted). Answers are kept to check exact match and that two configurations
/// produced the same tokens.
/// </summary>
internal static class TaskRounds
{
    /// <summary>Prompts each configuration answers per round: enough tokens that a round's time is not one token's noise.</summary>
    public const int PromptsPerRound = 8;

    /// <summary>
    /// Runs one warm-up round (not counted) and <paramref name="rounds"/> counted ones; round <c>r</c> answers
    /// examples <c>r·n .. r·n + n - 1</c> of <paramref name="examples"/> (n = <see cref="PromptsPerRound"/>).
    /// Cancelled, it stops within a token and says how many rounds were done (<see cref="RunCancelledException"/>).
    /// </summary>
    public static ConfigurationTally[] Run(LlamaModel model, TextTokenizer tokenizer, IReadOnlyList<TaskConfiguration> configurations,
                                           IReadOnlyList<TaskExample> examples, int rounds, string label, TextWriter progress,
                                           CancellationToken cancellationToken = default)
    {
        if (examples.Count < rounds * PromptsPerRound)
            throw new ArgumentException($"{label}: {examples.Count} examples for {rounds} rounds of {PromptsPerRound} prompts");
        var generators = configurations.Select(c => new TextGenerator(model, tokenizer, c.Options)).ToArray();
        var tallies = configurations.Select(_ => new ConfigurationTally(rounds)).ToArray();
        var stop = tokenizer.DefaultStopTokens.Append(tokenizer.EosId).ToArray();
        int n = configurations.Count;
        int done = 0;
        try
        {
            for (int r = -1; r < rounds; r++)
            {
                var prompts = examples.Skip(Math.Max(0, r) * PromptsPerRound).Take(PromptsPerRound).ToArray();
                for (int k = 0; k < n; k++)
                {
                    int i = (Math.Max(0, r) + k) % n;
                    double ms = 0;
                    long steps = 0;
                    foreach (var e in prompts)
                    {
                        var run = generators[i].Generate(e.Prompt, new GenerationOptions
                        {
                            Sampling = new SamplerOptions { Temperature = 0 },
                            MaxSteps = 0,
                            // As TaskEvaluation: room for the answer and a few tokens more, then it is wrong anyway.
                            MaxNewTokens = e.Answer.Length + 4,
                            StopTokens = stop,
                        }, cancellationToken);
                        var tokens = run.Select(t => t.Id).ToList();
                        var s = run.Stats;
                        ms += s.DecodeMs;
                        steps += s.DecodeSteps;
                        if (r >= 0) tallies[i].Add(tokens, TaskEvaluation.Text(tokenizer, tokens) == e.Answer, s);
                    }
                    if (r >= 0) tallies[i].MsPerToken[r] = steps == 0 ? 0 : ms / steps;
                }
                if (r >= 0) progress.Write($"\r{label}: round {r + 1}/{rounds}   ");
                done = r + 1;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RunCancelledException(done, rounds, $"rounds of {label}", cancellationToken);
        }
        finally
        {
            progress.Write("\r" + new string(' ', 60) + "\r");
        }
        return tallies;
    }

    /// <summary>A share as a percentage for the tables: <c>97.5%</c>.</summary>
    public static string Percent(double share, int decimals) =>
        (share * 100).ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture) + "%";

    /// <summary>
    /// Median and 95% interval of the per-round speedup of <paramref name="x"/> over <paramref name="baseline"/>
    /// (baseline time / x time: above 1 is faster).
    /// </summary>
    public static (double Median, double Low, double High) Speedup(ConfigurationTally baseline, ConfigurationTally x)
    {
        // A round in which either decoded nothing (every answer ended at its first token) has no ratio.
        var ratios = x.MsPerToken.Zip(baseline.MsPerToken).Where(p => p.First > 0 && p.Second > 0).Select(p => p.Second / p.First).ToArray();
        return ratios.Length == 0 ? (0, 0, 0) : PairedStatistics.MedianWithInterval(ratios);
    }
}

/// <summary>What one configuration did over the counted rounds of one task.</summary>
internal sealed class ConfigurationTally(int rounds)
{
    private readonly List<int[]> _answers = [];
    private readonly Dictionary<string, int> _paths = new();
    private readonly Dictionary<string, int> _masks = new();
    private int _correct;
    private long _drafted, _accepted, _exits, _steps;
    private double _depthSum;

    /// <summary>Decode milliseconds per token, one entry per round.</summary>
    public double[] MsPerToken { get; } = new double[rounds];

    /// <summary>Milliseconds of prefill of every run, summed.</summary>
    public double PrefillMs { get; private set; }

    /// <summary>Milliseconds the routers spent scoring prompts during those prefills, summed.</summary>
    public double RoutersMs { get; private set; }

    public void Add(List<int> tokens, bool correct, GenerationStats s)
    {
        _answers.Add([.. tokens]);
        if (correct) _correct++;
        _drafted += s.DraftedTokens;
        _accepted += s.AcceptedTokens;
        _exits += s.EarlyExits;
        _steps += s.DecodeSteps;
        _depthSum += s.MeanExitDepth * s.DecodeSteps;
        PrefillMs += s.PrefillMs;
        if (s.Routing is { } routing) RoutersMs += routing.RoutersTime.TotalMilliseconds;
        Count(_paths, DecodingOptions.PathWithReason(s.DecodePath, s.PathReason));
        Count(_masks, s.Mask);
    }

    /// <summary>Median decode speed over the rounds.</summary>
    public double TokensPerSecond => MedianMsPerToken > 0 ? 1000 / MedianMsPerToken : 0;

    public double MedianMsPerToken => PairedStatistics.Median(MsPerToken);

    /// <summary>Share of answers equal to the expected ones.</summary>
    public double ExactMatch => _answers.Count == 0 ? 0 : (double)_correct / _answers.Count;

    /// <summary>Share of drafted tokens the verify passes kept; null when nothing was drafted.</summary>
    public double? AcceptanceRate => _drafted == 0 ? null : (double)_accepted / _drafted;

    /// <summary>Share of decoded tokens that left at an early exit.</summary>
    public double EarlyExitShare => _steps == 0 ? 0 : Math.Min(1, (double)_exits / _steps);

    /// <summary>Mean layers a decoded token ran through (0 when tokens were decoded by speculation rounds).</summary>
    public double MeanExitDepth => _steps == 0 ? 0 : _depthSum / _steps;

    /// <summary>The path the runs decoded on most often, with its reason (<c>CopyPath (pinned)</c>).</summary>
    public string Path => MostCommon(_paths).Key;

    /// <summary>The mask the runs ran most often, and the share of runs that ran it (routed masks vary by prompt).</summary>
    public (string Mask, double Share) Mask
    {
        get
        {
            var (mask, count) = MostCommon(_masks);
            return (mask, _answers.Count == 0 ? 0 : (double)count / _answers.Count);
        }
    }

    /// <summary>True when every answer has exactly the tokens of <paramref name="other"/>'s answer to the same prompt.</summary>
    public bool SameTokens(ConfigurationTally other) =>
        _answers.Count == other._answers.Count && _answers.Zip(other._answers).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    private static void Count(Dictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    private static KeyValuePair<string, int> MostCommon(Dictionary<string, int> counts) =>
        counts.Count == 0 ? new("", 0) : counts.MaxBy(c => c.Value);
}
