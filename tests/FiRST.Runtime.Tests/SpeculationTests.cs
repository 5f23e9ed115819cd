using FiRST.Runtime.Decoding;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>
/// LayerSkip self-speculation: greedy output with speculation is the same token for token as without it,
/// over hundreds of prompts of the embedded model's tasks and on stories260K, on the full model and on task
/// paths; sampled output follows the full model's distribution.
/// </summary>
public sealed class SpeculationTests(ITestOutputHelper output)
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "demo");

    /// <summary>Prompts of the demo's four tasks drawn at random (the grammar the model was trained on).</summary>
    internal static IEnumerable<string> DemoPrompts(int perTask, int seed)
    {
        var random = new Random(seed);
        const string letters = "abcdefghijklmnopqrstuvwxyz0123456789";
        string Word(int min, int max) => new([.. Enumerable.Range(0, random.Next(min, max + 1)).Select(_ => letters[random.Next(letters.Length)])]);
        for (int i = 0; i < perTask; i++)
        {
            yield return $"copy {Word(2, 8)} =>";
            yield return $"reverse {Word(2, 8)} =>";
            yield return $"sort {string.Join(' ', Enumerable.Range(0, random.Next(2, 7)).Select(_ => random.Next(10)))} =>";
            yield return $"{random.Next(1, 10000)}+{random.Next(1, 10000)}=";
        }
    }

    private static List<int> Tokens(TextGenerator generator, string prompt, int maxNew = 0)
    {
        var run = generator.Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, MaxNewTokens = maxNew, StopTokens = [generator.Tokenizer.EosId] });
        return [.. run.Select(t => t.Id)];
    }

    [Theory]
    [InlineData(3, 4, 50)]
    [InlineData(2, 6, 15)]
    [InlineData(1, 3, 15)]
    public void GreedySpeculationOnTheFullModelGivesTheSameTokensOnDemoPrompts(int draftLayers, int lookahead, int perTask)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var plain = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 2 });
        var speculative = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Speculation = new(draftLayers, lookahead) });
        long drafted = 0, accepted = 0;
        int prompts = 0;
        foreach (string prompt in DemoPrompts(perTask, seed: 20 + draftLayers))
        {
            var expected = Tokens(plain, prompt);
            var run = speculative.Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] });
            var actual = run.Select(t => t.Id).ToList();
            Assert.True(expected.SequenceEqual(actual), $"'{prompt}': [{string.Join(",", expected)}] without speculation, [{string.Join(",", actual)}] with {draftLayers}:{lookahead}");
            Assert.Equal(draftLayers + ":" + lookahead, run.Stats.Speculation!.ToString());
            drafted += run.Stats.DraftedTokens;
            accepted += run.Stats.AcceptedTokens;
            prompts++;
        }
        Assert.Equal(4 * perTask, prompts);
        output.WriteLine($"{draftLayers}:{lookahead}: {accepted} of {drafted} drafted tokens accepted ({(double)accepted / drafted:P1})");
        // The rounds really drafted and verified: some drafts kept, and (except with the deepest draft) some rejected.
        Assert.True(accepted > 0 && drafted > accepted, $"{accepted} of {drafted} accepted");
    }

    [Theory]
    [InlineData(DemoProfileModel.Task.Copy, 2, 4)]
    [InlineData(DemoProfileModel.Task.Reverse, 3, 3)]
    [InlineData(DemoProfileModel.Task.Sort, 2, 4)]
    [InlineData(DemoProfileModel.Task.Add4, 3, 2)]
    public void GreedySpeculationOnATaskPathGivesThatPathsTokens(DemoProfileModel.Task task, int draftLayers, int lookahead)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var path = DemoProfileModel.PathFor(task);
        var plain = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Path = path });
        var speculative = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Path = path, Speculation = new(draftLayers, lookahead) });
        foreach (string prompt in DemoPrompts(15, seed: (int)task))
        {
            var expected = Tokens(plain, prompt);
            var actual = Tokens(speculative, prompt);
            Assert.True(expected.SequenceEqual(actual), $"{task} '{prompt}': [{string.Join(",", expected)}] vs [{string.Join(",", actual)}]");
        }
    }

    [Theory]
    [InlineData(DemoProfileModel.Task.Add4)]
    public void A_task_whose_calibration_found_no_plan_has_no_draft_half_and_decodes_plainly(DemoProfileModel.Task task)
    {
        // Addition keeps 4 layers; no draft of fewer beat plain decoding on its path (first calibrate: best 3:2 at
        // 1.01x, under the bar), so the profile has no plan for it and the generator emitted no draft half.
        var path = (CompiledPath<DemoProfileModel.Shape>)DemoProfileModel.PathFor(task);
        Assert.Null(path.Speculation);
        Assert.Null(path.Draft);
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Path = path, SpeculateAsCalibrated = true });
        Assert.Null(session.Speculation);
    }

    [Theory]
    [InlineData(DemoProfileModel.Task.Copy)]
    [InlineData(DemoProfileModel.Task.Reverse)]
    [InlineData(DemoProfileModel.Task.Sort)]
    public void TheCalibratedPlanDraftsOnTheGeneratedDraftHalfAndKeepsThePathsTokens(DemoProfileModel.Task task)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var path = (CompiledPath<DemoProfileModel.Shape>)DemoProfileModel.PathFor(task);
        // The committed profile has a plan for copy, reverse and sort (first calibrate), so the generator emitted a draft half.
        Assert.NotNull(path.Speculation);
        Assert.Equal(path.Speculation!.DraftLayers, path.Draft!.Mask.KeptCount);
        var options = new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] };
        foreach (string prompt in DemoPrompts(10, seed: 40 + (int)task))
        {
            using var speculative = model.CreateSession(new SessionOptions { Threads = 1, Path = path, SpeculateAsCalibrated = true });
            Assert.Same(path.Speculation, speculative.Speculation);
            var expected = Tokens(new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Path = path }), prompt);
            var run = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Path = path, SpeculateAsCalibrated = true }).Generate(prompt, options);
            var actual = run.Select(t => t.Id).ToList();
            Assert.True(expected.SequenceEqual(actual), $"{task} '{prompt}': [{string.Join(",", expected)}] vs [{string.Join(",", actual)}]");
            Assert.Same(path.Speculation, run.Stats.Speculation);
        }
        // The draft ran on the draft half's compiled decoder, not the generic loop.
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Path = path, SpeculateAsCalibrated = true });
        var ids = tokenizer.Encode(DemoPrompts(1, seed: 1).ElementAt((int)task));
        int next = Kernels.Ops.ArgMax(session.Prefill(ids));
        session.Speculate(next, new Sampler(model.Config.VocabSize, new SamplerOptions { Temperature = 0 }), new int[SpeculationOptions.MaxLookahead + 1]);
        Assert.True(session.SpeculationState!.DraftsCompiled);
    }

    [Fact]
    public void GreedySpeculationOnStories260KGivesTheSameTokensOver200Prompts()
    {
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        var random = new Random(7);
        foreach (var (e, k, threads) in new[] { (1, 4, 1), (2, 3, 2), (3, 5, 1), (4, 2, 2) })
        {
            for (int i = 0; i < 50; i++)
            {
                // BOS and 1-6 random tokens, then 40 greedy tokens (stories260K has no stop token in these runs).
                int[] prompt = [1, .. Enumerable.Range(0, random.Next(1, 7)).Select(_ => random.Next(3, 512))];
                var expected = Decode(model, new SessionOptions { Threads = threads }, prompt, 40);
                var actual = Decode(model, new SessionOptions { Threads = threads, Speculation = new(e, k) }, prompt, 40);
                Assert.True(expected.SequenceEqual(actual), $"{e}:{k}, prompt [{string.Join(",", prompt)}]: [{string.Join(",", expected)}] vs [{string.Join(",", actual)}]");
            }
        }
    }

    private static List<int> Decode(LlamaModel model, SessionOptions options, int[] prompt, int tokens, SamplerOptions? sampling = null)
    {
        var tokenizer = TextTokenizer.Load(SharedModels.Tok512);
        var run = new TextGenerator(model, tokenizer, options)
            .Generate(prompt, new GenerationOptions { Sampling = sampling ?? new() { Temperature = 0 }, MaxNewTokens = tokens, StopTokens = [] });
        return [.. run.Select(t => t.Id)];
    }

    [Fact]
    public void ARoundStopsAtTheEndOfTheContext()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        // No stop token: generation runs into the 48-position context, the last rounds shorter than k.
        var options = new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [], MaxSteps = 0 };
        var plain = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1 }).Generate("copy abc =>", options);
        var expected = plain.Select(t => (t.Id, t.Position)).ToList();
        var run = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Speculation = new(2, 7) }).Generate("copy abc =>", options);
        var actual = run.Select(t => (t.Id, t.Position)).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(StopReason.ContextFull, run.Stats.StopReason);
        Assert.Equal(plain.Stats.GeneratedTokens, run.Stats.GeneratedTokens);
    }

    [Fact]
    public void RejectionSamplingFollowsTheFullModelsDistribution()
    {
        // p: the full model's distribution; q: a draft's, deliberately different. Drafting from q, keeping x with
        // probability min(1, p(x)/q(x)) and replacing rejections from max(0, p - q) must give p exactly.
        float[] p = [0.5f, 0.2f, 0.15f, 0.1f, 0.05f];
        float[] q = [0.1f, 0.4f, 0.1f, 0.3f, 0.1f];
        var sampler = new Sampler(p.Length, new SamplerOptions { Temperature = 1, Seed = 42 });
        var counts = new int[p.Length];
        var draftOnly = new int[p.Length];
        var scratch = new float[p.Length];
        const int n = 400_000;
        for (int i = 0; i < n; i++)
        {
            p.CopyTo(scratch, 0);
            int x = SelfSpeculation.Decide(scratch, q, sampler.Draw(q), sampler, out _);
            counts[x]++;
        }
        for (int i = 0; i < n; i++) draftOnly[sampler.Draw(q)]++;
        double tv = 0.5 * p.Select((v, i) => Math.Abs(v - (double)counts[i] / n)).Sum();
        double tvDraft = 0.5 * p.Select((v, i) => Math.Abs(v - (double)draftOnly[i] / n)).Sum();
        output.WriteLine($"total variation from p: speculative {tv:F4}, draft alone {tvDraft:F4}");
        Assert.True(tv < 0.005, $"speculative sampling is {tv:F4} from p in total variation");
        Assert.True(tvDraft > 0.3, "the draft distribution must differ from p, or this test proves nothing");
    }

    [Fact]
    public void SampledSpeculationKeepsTheFullModelsDistributionEndToEnd()
    {
        // The third generated token of stories260K at temperature 1, over many seeds: its distribution with
        // speculation (2 of 5 layers drafting) against plain sampling and against the draft alone.
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        int[] prompt = [1, 403, 411];
        const int runs = 3000;
        var plain = new Dictionary<int, int>();
        var speculative = new Dictionary<int, int>();
        var draft = new Dictionary<int, int>();
        var draftMask = LayerMask.FromKept(model.Config.NLayers, [0, 1]);
        for (int s = 0; s < runs; s++)
        {
            var sampling = new SamplerOptions { Temperature = 1, Seed = (ulong)(1000 + s) };
            Count(plain, Decode(model, new SessionOptions { Threads = 1 }, prompt, 3, sampling)[2]);
            Count(speculative, Decode(model, new SessionOptions { Threads = 1, Speculation = new(2, 3) }, prompt, 3, sampling with { Seed = (ulong)(900_000 + s) })[2]);
            Count(draft, Decode(model, new SessionOptions { Threads = 1, Mask = draftMask }, prompt, 3, sampling with { Seed = (ulong)(500_000 + s) })[2]);
        }
        double tvSpec = TotalVariation(plain, speculative, runs), tvDraft = TotalVariation(plain, draft, runs);
        output.WriteLine($"third token over {runs} runs: TV(plain, speculative) {tvSpec:F3}, TV(plain, draft alone) {tvDraft:F3}");
        Assert.True(tvSpec < tvDraft / 2, $"speculative sampling is {tvSpec:F3} from plain sampling; the draft alone is {tvDraft:F3}");

        static void Count(Dictionary<int, int> h, int token) => h[token] = h.GetValueOrDefault(token) + 1;
        static double TotalVariation(Dictionary<int, int> a, Dictionary<int, int> b, int n) =>
            0.5 * a.Keys.Union(b.Keys).Sum(k => Math.Abs(a.GetValueOrDefault(k) - b.GetValueOrDefault(k)) / (double)n);
    }

    [Fact]
    public void ARoundAllocatesNothing()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        // One thread: the whole round runs on this thread, so the per-thread counter sees every allocation.
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Speculation = new(3, 4) });
        int[] prompt = tokenizer.Encode("copy abcdef =>");
        var output = new int[SpeculationOptions.MaxLookahead + 1];
        foreach (var sampling in new[] { new SamplerOptions { Temperature = 0 }, new SamplerOptions { Temperature = 1, TopP = 0.9f, Seed = 5 } })
        {
            var sampler = new Sampler(model.Config.VocabSize, sampling);
            long allocated = long.MaxValue;
            for (int attempt = 0; attempt < 5 && allocated != 0; attempt++)
            {
                session.Reset();
                int next = sampler.Sample(session.Prefill(prompt));
                long before = GC.GetAllocatedBytesForCurrentThread();
                int rounds = 0;
                while (session.Remaining > 6)
                {
                    int n = session.Speculate(next, sampler, output);
                    next = output[n - 1];
                    rounds++;
                }
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(rounds > 2);
            }
            Assert.Equal(0, allocated);
        }
    }

    [Fact]
    public void BadPlansAreOneLineErrors()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tooDeep = Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Speculation = new(8, 4) }));
        Assert.Contains("E must be below the number of kept layers", tooDeep.Message);
        Assert.DoesNotContain('\n', tooDeep.Message);
        var onPath = Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Path = DemoProfileModel.PathFor(DemoProfileModel.Task.Add4), Speculation = new(4, 4) }));
        Assert.Contains("keeps 4", onPath.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpeculationOptions(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpeculationOptions(2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpeculationOptions(2, SpeculationOptions.MaxLookahead + 1));
        Assert.Throws<FormatException>(() => SpeculationOptions.Parse("3"));
        Assert.Throws<FormatException>(() => SpeculationOptions.Parse("a:4"));
        Assert.Equal(new SpeculationOptions(3, 4), SpeculationOptions.Parse("3:4"));
    }
}
