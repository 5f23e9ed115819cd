using FiRST.Runtime.Generation;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>Non-finite weights, concurrent sessions over one model, cancellation.</summary>
public sealed class ReliabilityTests
{
    private static readonly ModelConfig Small = new() { Dim = 32, HiddenDim = 48, NLayers = 3, NHeads = 4, NKvHeads = 2, VocabSize = 40, MaxSeqLen = 64 };

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFiniteWeightIsReportedWithTheTensorName(float bad)
    {
        using var dir = new TempDir();
        var model = TestModel.Random(Small, 3);
        model.Wk[1][17] = bad;
        model.WriteLlama2c(dir.File("m.bin"));

        var ex = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.File("m.bin")));
        Assert.Equal("layers.1.wk", ex.Field);
        Assert.Contains("element 17", ex.Message);

        // The check can be turned off (large models, or on purpose).
        using var unchecked_ = LlamaModel.Load(dir.File("m.bin"), new ModelLoadOptions { CheckFinite = false });
        Assert.Equal(Small.NLayers, unchecked_.Config.NLayers);
    }

    [Fact]
    public void EightConcurrentSessionsMatchSequentialRuns()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        var tokenizer = TextTokenizer.Load(SharedModels.Tok512);
        // Mixed paths: all layers, two layer masks and routers that choose per prompt; greedy and sampled;
        // one and two threads.
        var masks = new LayerMask?[] { null, LayerMask.FromKept(5, [0, 1, 3]), LayerMask.FromKept(5, [0, 4]), null };
        var rng = new Random(3);
        var routers = new Routing.RouterSet(5, 64, Enumerable.Range(0, 5 * 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [2f, 0f, 0f, 0f, 2f]);
        var jobs = Enumerable.Range(0, 8).Select(i => (
            // With the generated path table, the [0, 4] mask decodes on the generated ShortAnswerPath.
            Generator: new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1 + i % 2, Mask = masks[i % 4], Routers = i % 4 == 3 ? routers : null, Paths = Stories260KProfile.Paths }),
            Prompt: i % 2 == 0 ? "Once upon a time" : "The cat",
            Options: new GenerationOptions { MaxSteps = 80, Sampling = new SamplerOptions { Temperature = i % 4 == 0 ? 0 : 0.9f, Seed = (ulong)i } })).ToArray();

        string[] sequential = jobs.Select(j => Ids(j.Generator.Generate(j.Prompt, j.Options))).ToArray();
        var concurrent = new string[jobs.Length];
        var threads = jobs.Select((j, i) => new Thread(() => concurrent[i] = Ids(j.Generator.Generate(j.Prompt, j.Options)))).ToArray();
        foreach (var t in threads) t.Start();
        // A deadlock between sessions must fail the test, not hang the run: sequentially all eight jobs take a
        // second or two, so two minutes is far beyond any healthy run.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        for (int i = 0; i < threads.Length; i++)
        {
            var left = deadline - DateTime.UtcNow;
            Assert.True(threads[i].Join(left > TimeSpan.Zero ? left : TimeSpan.Zero), $"session thread {i} of {threads.Length} did not finish within 2 minutes (deadlock?)");
        }

        Assert.Equal(sequential, concurrent);
        var run = jobs[2].Generator.Generate(jobs[2].Prompt, jobs[2].Options);
        _ = run.ToList();
        Assert.Equal("ShortAnswerPath", run.Stats.DecodePath);
        Assert.True(sequential.Distinct().Count() > 3, "the jobs should differ, or the test shows little");
    }

    [Fact]
    public async Task CancellationDuringPrefillStopsAndLeavesTheModelUsable()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        var generator = new TextGenerator(model, TextTokenizer.Load(SharedModels.Tok512));
        using var cts = new CancellationTokenSource();
        cts.Cancel(); // cancelled before the first layer of the prompt
        var run = generator.Generate(string.Concat(Enumerable.Repeat("a long prompt ", 20)), new GenerationOptions { MaxSteps = 0 }, cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { await foreach (var _ in run.StreamAsync()) { } });
        Assert.Equal(StopReason.Cancelled, run.Stats.StopReason);
        Assert.Equal(0, run.Stats.GeneratedTokens);

        var again = generator.Generate("Once upon a time", new GenerationOptions { MaxSteps = 20, Sampling = new() { Temperature = 0 } });
        Assert.NotEmpty(again.ToList());
    }

    [Fact]
    public void SessionsThatAreNeverDisposedAreFinalizedSafely()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        // One session whose constructor throws (mask of the wrong length), and one left undisposed with workers.
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Mask = LayerMask.All(3) }));
        MakeAndDrop(model);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        // Still alive, and the model still works.
        using var session = model.CreateSession(new SessionOptions { Threads = 2 });
        Assert.Equal(512, session.Forward(1).Length);

        static void MakeAndDrop(LlamaModel m) => m.CreateSession(new SessionOptions { Threads = 2 }).Forward(1);
    }

    private static string Ids(GenerationRun run) => string.Join(",", run.Select(t => t.Id)) + "|" + run.Stats.StopReason;
}
