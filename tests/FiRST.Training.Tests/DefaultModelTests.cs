using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using System.Text.Json;
using FiRST.Runtime;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Model;
using FiRST.Training.Tasks;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FiRST.Training.Tests;

/// <summary>
/// The committed embedded model meets the accuracy thresholds its README claims, measured here through the
/// TorchSharp model (a code path that shares no decoding code with <c>first eval</c>, which wrote eval.json
/// with <see cref="TaskEvaluation.Run"/>); the report and the C# runtime are then checked against that measurement.
/// </summary>
public sealed class DefaultModelTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

    internal static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "FiRST.Gen.sln"))) return d.FullName;
            throw new InvalidOperationException("cannot find the repository root");
        }
    }

    internal static string ModelDirectory => Path.Combine(RepoRoot, "models", "demo");

    /// <summary>The report's prompt count: the thresholds are claims about 1,000 held-out prompts per task (over 300 per length bucket).</summary>
    private const int ReportPrompts = 1000;

    [Fact]
    public void CommittedModelMeetsItsThresholdsMeasuredIndependentlyAndTheReportAgrees()
    {
        string dir = ModelDirectory;
        Assert.True(new FileInfo(Path.Combine(dir, "model.bin")).Length < 10_000_000);
        using var model = LlamaModel.Load(Path.Combine(dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin"));
        int layers = model.Config.NLayers;
        var tasks = TaskGenerator.Standard;
        var verdicts = tasks.ToDictionary(t => t.Name, t => TorchVerdicts(model, tokenizer, t, ReportPrompts));
        var measured = verdicts.ToDictionary(v => v.Key, v => Accuracy(v.Value));

        // Over each task's grammar (held-out prompts drawn over all of it): every task at least 99% with the full
        // model and 98% in every length bucket, issue 17's targets (measured 99.6 to 100%; the lowest bucket, sort's
        // long lists, 98.6%).
        Assert.All(measured, m => Assert.True(m.Value[^1] >= 0.99, $"{m.Key}: {m.Value[^1]:P1} on {ReportPrompts} prompts with all {layers} layers"));
        var buckets = tasks.ToDictionary(t => t.Name, t => Buckets(t, verdicts[t.Name], layers));
        foreach (var (task, byBucket) in buckets)
            foreach (var (bucket, (n, right)) in byBucket)
                Assert.True(right >= 0.98 * n, $"{task} {bucket}: {right} of {n} right with the full model");

        // The depth structure, on the fresh measurement: exiting at 60% of the depth (the last exit at or before
        // it), sort keeps 98% and at least two tasks lose more than 2 points (they need the deeper layers).
        int sixty = layers * 3 / 5;
        var atSixty = measured.ToDictionary(m => m.Key, m => m.Value[sixty - 1]);
        Assert.True(atSixty["sort"] >= 0.98, $"sort after {sixty} of {layers} layers: {atSixty["sort"]:P1}");
        // (On 1,000 prompts copy keeps 15.8% and reverse 22.6% there, against 100% with every layer.)
        var deep = atSixty.Where(a => a.Value < measured[a.Key][^1] - 0.02).Select(a => a.Key).ToArray();
        Assert.True(deep.Length >= 2, $"fewer than two tasks lose 2 points after {sixty} of {layers} layers: {Show(atSixty)}");

        // eval.json reports these numbers (same tasks, same 1,000 held-out prompts, every exit). Slack of one
        // prompt per entry: TorchSharp sums in another order than the runtime, so the logits differ by ~1e-5,
        // which could flip a prompt whose two best tokens are that close (measured: no entry differs at all).
        var claims = JsonSerializer.Deserialize<List<TaskAccuracy>>(File.ReadAllText(Path.Combine(dir, "eval.json")))!;
        Assert.Equal(tasks.Select(t => t.Name), claims.Select(c => c.Task));
        foreach (var claim in claims)
        {
            _output.WriteLine($"{claim.Task}: TorchSharp {string.Join(" ", measured[claim.Task].Select(a => a.ToString("P1")))}; " +
                              $"largest difference from eval.json {claim.ByExitLayer.Zip(measured[claim.Task], (c, m) => Math.Abs(c - m)).Max() * ReportPrompts:F0} prompts");
            Assert.Equal(ReportPrompts, claim.Prompts);
            Assert.Equal(layers, claim.ByExitLayer.Count);
            for (int k = 0; k < layers; k++)
                Assert.True(Math.Abs(measured[claim.Task][k] - claim.ByExitLayer[k]) <= 1.0 / ReportPrompts + 1e-9,
                            $"{claim.Task} after {k + 1} layers: eval.json says {claim.ByExitLayer[k]:P1}, TorchSharp measures {measured[claim.Task][k]:P1}");
            // And its buckets: the same prompts split by length, the full model's column.
            Assert.Equal(buckets[claim.Task].Keys, claim.Buckets.Select(b => b.Bucket));
            foreach (var b in claim.Buckets)
            {
                var (n, right) = buckets[claim.Task][b.Bucket];
                Assert.Equal(n, b.Prompts);
                Assert.True(Math.Abs(b.Accuracy * n - right) <= 1 + 1e-9, $"{claim.Task} {b.Bucket}: eval.json says {b.Accuracy:P1} of {n}, TorchSharp measures {right}");
            }
        }
    }

    [Fact]
    public void TheRuntimeAnswersWhatTheTorchModelPredictsAtEveryExit()
    {
        // Per prompt, not per share: the C# runtime's greedy answer (KV cache, one token at a time, early exit by
        // a layer mask) is right exactly when the TorchSharp model's teacher-forced predictions are. 60 prompts
        // per task and exit (1,920 decodes) cover every task and depth, and include at each shallow exit both
        // prompts the model gets right and prompts it gets wrong (asserted below), so a runtime that ignored the
        // mask or decoded wrongly would disagree on some; the full 1,000 are the threshold test's job.
        const int prompts = 60;
        string dir = ModelDirectory;
        using var model = LlamaModel.Load(Path.Combine(dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin"));
        int layers = model.Config.NLayers;
        int disagreements = 0, mixedExits = 0;
        var report = new List<string>();
        foreach (var task in TaskGenerator.Standard)
        {
            var torch = TorchVerdicts(model, tokenizer, task, prompts);
            var examples = task.Samples(prompts, TaskEvaluation.HeldOutSeed);
            for (int exit = 1; exit <= layers; exit++)
            {
                using var session = model.CreateSession(new SessionOptions { Mask = LayerMask.FromKept(layers, Enumerable.Range(0, exit)), Threads = 1 });
                int right = 0;
                for (int i = 0; i < prompts; i++)
                {
                    var e = examples[i];
                    bool runtime = TaskEvaluation.Answer(session, tokenizer, e.Prompt, e.Answer.Length + 4) == e.Answer;
                    right += torch[i][exit - 1] ? 1 : 0;
                    if (runtime != torch[i][exit - 1])
                    {
                        disagreements++;
                        report.Add($"{task.Name} exit {exit} prompt {i} '{e.Prompt}': runtime {(runtime ? "right" : "wrong")}, torch {(torch[i][exit - 1] ? "right" : "wrong")}");
                    }
                }
                if (right > 0 && right < prompts) mixedExits++;
            }
        }
        _output.WriteLine($"{disagreements} disagreements, {mixedExits} task/exit pairs with both right and wrong prompts\n" + string.Join("\n", report));
        // At most one near-tie flip over all 1,920 decodes (see the threshold test on float differences; measured:
        // none, with 14 of the 32 task/exit pairs mixing right and wrong prompts).
        Assert.True(disagreements <= 1, string.Join("\n", report));
        Assert.True(mixedExits >= 4, $"only {mixedExits} task/exit pairs have both right and wrong prompts: the comparison would not tell a working runtime from a broken one");
    }

    /// <summary>Per length bucket of the held-out prompts: how many fell in it and how many the full model got right.</summary>
    private static SortedDictionary<LengthBucket, (int Prompts, int Right)> Buckets(TaskGenerator task, bool[][] verdicts, int layers)
    {
        var examples = task.Samples(verdicts.Length, TaskEvaluation.HeldOutSeed);
        var buckets = new SortedDictionary<LengthBucket, (int Prompts, int Right)>();
        for (int i = 0; i < examples.Count; i++)
        {
            var bucket = task.Bucket(examples[i].Prompt)!.Value;
            var (n, r) = buckets.GetValueOrDefault(bucket);
            buckets[bucket] = (n + 1, r + (verdicts[i][layers - 1] ? 1 : 0));
        }
        return buckets;
    }

    private static string Show(Dictionary<string, double> shares) => string.Join(", ", shares.Select(s => $"{s.Key} {s.Value:P1}"));

    /// <summary>Share of prompts right after each exit layer.</summary>
    private static double[] Accuracy(bool[][] verdicts) =>
        Enumerable.Range(0, verdicts[0].Length).Select(k => verdicts.Count(v => v[k]) / (double)verdicts.Length).ToArray();

    /// <summary>
    /// Per held-out prompt (the report's seed) and exit layer: does greedy decoding from the prompt produce exactly
    /// the answer and then EOS? Computed teacher-forced on the TorchSharp model: greedy decoding produces the
    /// sequence answer + EOS exactly when, fed prompt + answer, the model's most likely next token is the right
    /// one at every answer position (by induction over the steps), so one batched forward pass of every prompt
    /// with its answer decides all of them, at every exit (final norm and classifier read after layer k).
    /// </summary>
    internal static bool[][] TorchVerdicts(LlamaModel runtime, TextTokenizer tokenizer, TaskGenerator task, int prompts)
    {
        var examples = task.Samples(prompts, TaskEvaluation.HeldOutSeed);
        var rows = new List<(int[] Ids, int PromptLength)>();
        foreach (var e in examples)
        {
            // BOS + prompt + " " + answer + EOS, as training encodes it; the prompt's own tokens must be its prefix
            // (true of the character tokenizer), or teacher forcing would not start where decoding starts.
            var row = TaskBatch.Encode(tokenizer, e);
            Assert.Equal(tokenizer.Encode(e.Prompt), row.Ids[..row.PromptLength]);
            Assert.Equal(e.Answer, tokenizer.Decode(row.Ids[row.PromptLength..^1])); // Decode drops the leading space
            rows.Add(row);
        }
        using var torchModel = new TorchLlama(runtime.Config);
        torchModel.LoadFrom(runtime);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var batch = TaskBatch.FromRows(rows);
        long time = batch.Tokens.shape[1];
        var answer = batch.AnswerMask.to_type(ScalarType.Bool);
        var x = torchModel.Embed(batch.Tokens);
        var verdicts = Enumerable.Range(0, prompts).Select(_ => new bool[runtime.Config.NLayers]).ToArray();
        for (int l = 0; l < runtime.Config.NLayers; l++)
        {
            x = torchModel.Layers[l].forward(x, torchModel.Cos(time), torchModel.Sin(time));
            // argmax takes the first of equal maxima, as the runtime's greedy step does.
            var wrong = torchModel.Logits(x).argmax(-1).ne(batch.Targets).logical_and(answer).any(1).data<bool>().ToArray();
            for (int i = 0; i < prompts; i++) verdicts[i][l] = !wrong[i];
        }
        return verdicts;
    }
}
