using FiRST.Runtime.Generation;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>The public generation API: streaming (sync and async), cancellation, stats, determinism, allocations.</summary>
public sealed class GenerationApiTests : IDisposable
{
    private readonly LlamaModel _model;
    private readonly TextGenerator _generator;

    public GenerationApiTests()
    {
        SharedModels.Require();
        _model = LlamaModel.Load(SharedModels.Stories260K);
        _generator = new TextGenerator(_model, TextTokenizer.Load(SharedModels.Tok512), new SessionOptions { Threads = 1 });
    }

    public void Dispose() => _model.Dispose();

    private static GenerationOptions Options(float temperature = 0, int steps = 64, ulong seed = 42, int topK = 0, float topP = 0.9f) =>
        new() { MaxSteps = steps, Sampling = new SamplerOptions { Temperature = temperature, Seed = seed, TopK = topK, TopP = topP } };

    [Fact]
    public async Task SyncAndAsyncStreamsGiveTheSameTokensAndStats()
    {
        // This prompt runs the full 40 steps without sampling a stop token (see the golden files).
        var sync = _generator.Generate("The little cat", Options(steps: 40));
        var syncIds = sync.Select(t => t.Id).ToList();

        var asyncRun = _generator.Generate("The little cat", Options(steps: 40));
        var asyncIds = new List<int>();
        await foreach (var t in asyncRun.StreamAsync()) asyncIds.Add(t.Id);

        Assert.NotEmpty(syncIds);
        Assert.Equal(syncIds, asyncIds);
        Assert.Equal(sync.Stats.GeneratedTokens, syncIds.Count);
        Assert.Equal(sync.PromptTokens.Count, sync.Stats.PromptTokens);
        Assert.Equal(syncIds.Count - 1, sync.Stats.DecodeSteps);
        // Timings are measured, not asserted (speed belongs to the benchmarks): they must be finite, not
        // negative, and the derived rates must follow from them.
        AssertTimingsAreConsistent(sync.Stats);
        AssertTimingsAreConsistent(asyncRun.Stats);
        Assert.Equal(StopReason.MaxSteps, sync.Stats.StopReason);
        Assert.Equal("11111", sync.Stats.Mask);
        // Prompt positions plus generated tokens fill exactly the requested steps.
        Assert.Equal(40, sync.PromptTokens.Count - 1 + syncIds.Count);
    }

    private static void AssertTimingsAreConsistent(GenerationStats stats)
    {
        foreach (var (name, value) in new[] { ("PrefillMs", stats.PrefillMs), ("DecodeMs", stats.DecodeMs) })
            Assert.True(double.IsFinite(value) && value >= 0, $"{name} = {value}");
        Assert.Equal(stats.DecodeSteps == 0 ? 0 : stats.DecodeMs / stats.DecodeSteps, stats.MsPerToken);
        Assert.Equal(stats.DecodeMs <= 0 ? 0 : stats.DecodeSteps * 1000.0 / stats.DecodeMs, stats.TokensPerSecond);
        Assert.Equal(stats.PrefillMs <= 0 ? 0 : stats.PromptTokens * 1000.0 / stats.PrefillMs, stats.PrefillTokensPerSecond);
        Assert.True(double.IsFinite(stats.TokensPerSecond) && double.IsFinite(stats.PrefillTokensPerSecond));
    }

    [Fact]
    public void SameSeedSameOutputDifferentSeedDifferentOutput()
    {
        string Run(ulong seed) => string.Concat(_generator.Generate("", Options(temperature: 1, steps: 100, seed: seed)).Select(t => t.Id + ","));
        Assert.Equal(Run(123), Run(123));
        Assert.NotEqual(Run(123), Run(124));
    }

    [Fact]
    public void TopKOneIsGreedy()
    {
        var greedy = _generator.Generate("The cat", Options(temperature: 0, steps: 50)).Select(t => t.Id).ToList();
        var topK1 = _generator.Generate("The cat", Options(temperature: 1.5f, steps: 50, topK: 1, topP: 1)).Select(t => t.Id).ToList();
        Assert.Equal(greedy, topK1);
    }

    [Fact]
    public async Task CancellationStopsTheAsyncStream()
    {
        using var cts = new CancellationTokenSource();
        var run = _generator.Generate("", Options(steps: 500), cts.Token);
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in run.StreamAsync())
                if (++seen == 5) cts.Cancel();
        });
        Assert.Equal(5, seen);
        Assert.Equal(StopReason.Cancelled, run.Stats.StopReason);
    }

    [Fact]
    public void MaxNewTokensAndContextLimitAreStatedAsStopReasons()
    {
        var limited = _generator.Generate("", Options(steps: 0) with { MaxNewTokens = 7 });
        Assert.Equal(7, limited.Count());
        Assert.Equal(StopReason.MaxNewTokens, limited.Stats.StopReason);

        // Steps 0 means "up to the context": the run ends because the 512-position context is full.
        var full = _generator.Generate("", Options(temperature: 0, steps: 0) with { StopTokens = [] });
        int n = full.Count();
        Assert.Equal(StopReason.ContextFull, full.Stats.StopReason);
        Assert.Equal(_model.Config.MaxSeqLen, n);
    }

    [Fact]
    public void TextStreamJoinsPiecesIntoTheDecodedText()
    {
        var run = _generator.Generate("Once upon a time", Options(steps: 60));
        string streamed = string.Concat(run.Text());
        var again = _generator.Generate("Once upon a time", Options(steps: 60));
        var ids = again.Select(t => t.Id).ToArray();
        var tokenizer = _generator.Tokenizer;
        string promptText = tokenizer.Decode([.. again.PromptTokens]);
        string fullText = tokenizer.Decode([.. again.PromptTokens, .. ids]);
        Assert.StartsWith(promptText, fullText);
        Assert.NotEmpty(streamed);
        Assert.Equal(fullText[promptText.Length..], streamed);
    }

    [Fact]
    public void RunCanBeEnumeratedOnlyOnce()
    {
        var run = _generator.Generate("", Options(steps: 5));
        _ = run.ToList();
        Assert.Throws<InvalidOperationException>(() => run.ToList());
    }

    [Fact]
    public void SessionsAreIndependent()
    {
        using var a = _model.CreateSession(new SessionOptions { Threads = 1 });
        using var b = _model.CreateSession(new SessionOptions { Threads = 1 });
        using var alone = _model.CreateSession(new SessionOptions { Threads = 1 });
        int[] tokensA = [1, 50, 60, 70, 80], tokensB = [1, 300, 200, 100, 5];
        var interleaved = new List<float[]>();
        for (int i = 0; i < tokensA.Length; i++)
        {
            interleaved.Add(a.Forward(tokensA[i]).ToArray());
            b.Forward(tokensB[i]);
        }
        for (int i = 0; i < tokensA.Length; i++)
            Assert.Equal(alone.Forward(tokensA[i]).ToArray(), interleaved[i]);
    }

    [Fact]
    public void ForwardPastTheContextThrowsAndDisposedModelIsAClearError()
    {
        using var session = _model.CreateSession(new SessionOptions { Threads = 1 });
        for (int i = 0; i < _model.Config.MaxSeqLen; i++) session.Forward(1);
        Assert.Throws<ContextFullException>(() => session.Forward(1));

        var other = LlamaModel.Load(SharedModels.Stories260K);
        var s2 = other.CreateSession();
        other.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s2.Forward(1));
    }
}

/// <summary>
/// Tests that count every byte the process allocates. They run alone (after the parallel collections), so
/// other tests' allocations do not land in the count.
/// </summary>
[CollectionDefinition(nameof(ProcessWideMeasurements), DisableParallelization = true)]
public sealed class ProcessWideMeasurements;

[Collection(nameof(ProcessWideMeasurements))]
public sealed class DecodeAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public void DecodeStepAllocatesNothingOnAnyThread()
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K);
        // Two threads: a worker runs part of every kernel, so its allocations must be counted too, which
        // GC.GetAllocatedBytesForCurrentThread cannot do; GC.GetTotalAllocatedBytes(precise) counts all threads.
        using var session = model.CreateSession(new SessionOptions { Threads = 2 });
        AssertStepsAllocateNothing(session);
    }

    [Fact]
    public void CompiledPathStepAllocatesNothingOnAnyThread()
    {
        // The compiled decoder: one parallel region per token on two threads, barriers, packed weights.
        using var model = LlamaModel.Load(Path.Combine(AppContext.BaseDirectory, "demo", "model.bin"));
        using var session = model.CreateSession(new SessionOptions { Path = DemoProfileModel.PathFor(DemoProfileModel.Task.Copy), Threads = 2 });
        AssertStepsAllocateNothing(session);
        Assert.True(session.DecodesCompiled);
    }

    [Fact]
    public void BFloat16StepAllocatesNothingOnAnyThread()
    {
        // bfloat16 weights (the BF16 kernels, the generic loop) on two threads.
        using var dir = new TempDir();
        string hf = dir.File("hf");
        var config = new ModelConfig { Dim = 48, HiddenDim = 96, NLayers = 2, NHeads = 6, NKvHeads = 2, VocabSize = 64, MaxSeqLen = 128 };
        TestModel.Random(config, 5, round: TestModel.ToBFloat16).WriteSafetensors(hf, "BF16");
        using var model = LlamaModel.Load(hf);
        Assert.Equal("bf16", model.Weights.FormatName);
        using var session = model.CreateSession(new SessionOptions { Threads = 2 });
        AssertStepsAllocateNothing(session);
    }

    private void AssertStepsAllocateNothing(InferenceSession session)
    {
        var sampler = new Sampler(session.Config.VocabSize, new SamplerOptions { Temperature = 0.9f, TopP = 0.9f, TopK = 40, Seed = 1 });
        int steps = Math.Min(100, session.Config.MaxSeqLen);
        const int maxRounds = 30;
        // One allocation per step, of the smallest object (24 bytes), adds at least 24 · steps to every round;
        // a round below half of that proves no step allocates.
        long bound = 24L * steps / 2;
        int token = 1;
        void Round()
        {
            session.Reset();
            for (int i = 0; i < steps; i++) token = sampler.Sample(session.Forward(token));
        }
        for (int i = 0; i < 5; i++) Round(); // warm up (JIT, tiering)

        // Other threads of the process allocate now and then while the steps run (the JIT's tier-up, the
        // test host: a few hundred bytes per round, measured with no allocation in the session), so the test
        // looks for one clean round among several rather than requiring all of them to be clean. A step that
        // allocates makes every round dirty, so the test still fails on it.
        var perRound = new List<long>(maxRounds);
        long onThisThread = 0;
        while (perRound.Count < maxRounds && (perRound.Count == 0 || perRound.Min() >= bound))
        {
            long before = GC.GetTotalAllocatedBytes(precise: true), beforeHere = GC.GetAllocatedBytesForCurrentThread();
            Round();
            onThisThread += GC.GetAllocatedBytesForCurrentThread() - beforeHere;
            perRound.Add(GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        output.WriteLine($"bytes allocated per round of {steps} decode steps: {string.Join(", ", perRound)}");
        // The calling thread's own count is exact, so it must be zero in every round.
        Assert.Equal(0, onThisThread);
        Assert.True(perRound.Min() < bound, $"every round of {steps} decode steps allocated {bound} bytes or more: {string.Join(", ", perRound)}");
    }
}
