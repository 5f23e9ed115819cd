using FiRST.Runtime.Generation;
using FiRST.Runtime.Inference;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// A session's edges: token ids outside the vocabulary, use after disposal, disposal while a step runs, and
/// cancellation between the chunks of a long prefill or during synchronous enumeration.
/// </summary>
public sealed class SessionLifecycleTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly LlamaModel _model;

    public SessionLifecycleTests()
    {
        SharedModels.Require();
        _model = LlamaModel.Load(SharedModels.Stories260K);
    }

    public void Dispose() => _model.Dispose();

    private static int[] Prompt(int length) => Enumerable.Range(0, length).Select(i => 1 + i * 37 % 500).ToArray();

    [Theory]
    [InlineData(-1)]
    [InlineData(512)] // the vocabulary size
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void A_token_outside_the_vocabulary_is_refused_and_leaves_the_session_unchanged(int bad)
    {
        Assert.Equal(512, _model.Config.VocabSize);
        using var session = _model.CreateSession(new SessionOptions { Threads = 2 });
        using var reference = _model.CreateSession(new SessionOptions { Threads = 2 });
        int[] prompt = Prompt(150); // three chunks of the batched prefill

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(bad));
        Assert.Contains("outside the vocabulary of 512", e.Message);
        // The bad token is last, in the third chunk: nothing is processed before it is found.
        int[] withBad = [.. prompt, bad];
        e = Assert.Throws<ArgumentOutOfRangeException>(() => session.Prefill(withBad));
        Assert.Contains($"token {prompt.Length} of the prompt", e.Message);
        Assert.Equal(0, session.Position);

        // Still usable, with the logits of a session that never saw the bad token.
        Assert.Equal(reference.Prefill(prompt).ToArray(), session.Prefill(prompt).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(bad));
        Assert.Equal(prompt.Length, session.Position);
        Assert.Equal(reference.Forward(7).ToArray(), session.Forward(7).ToArray());
    }

    [Fact]
    public void A_routed_session_refuses_a_bad_token_before_routing()
    {
        var rng = new Random(3);
        var routers = new Routing.RouterSet(5, 64, Enumerable.Range(0, 5 * 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [2f, 0f, 0f, 0f, 2f]);
        using var session = _model.CreateSession(new SessionOptions { Threads = 1, Routers = routers });
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Prefill([1, 20, -5]));
        Assert.Null(session.Routing);
        Assert.Equal(0, session.Position);
        session.Prefill([1, 20, 30]);
        Assert.NotNull(session.Routing);
    }

    [Fact]
    public void A_disposed_session_refuses_every_step_and_a_second_dispose_does_nothing()
    {
        var session = _model.CreateSession(new SessionOptions { Threads = 2 });
        session.Forward(1);
        session.Dispose();
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Forward(1));
        Assert.Throws<ObjectDisposedException>(() => session.Forward(1, new MaskedPath(session.Mask)));
        Assert.Throws<ObjectDisposedException>(() => session.Prefill([1, 2, 3]));
        Assert.Throws<ObjectDisposedException>(() => session.Prefill(Prompt(100)));
        Assert.Throws<ObjectDisposedException>(() => session.Reset());
        Assert.Equal(0, session.KvBytes);
        // The model is untouched by its session's disposal.
        using var other = _model.CreateSession(new SessionOptions { Threads = 1 });
        Assert.Equal(512, other.Forward(1).Length);
    }

    /// <summary>
    /// Runs the kept layers only after the session's Dispose has begun on another thread, so the step needs
    /// the worker pool and scratch memory that Dispose releases: Dispose must wait for the step.
    /// </summary>
    private sealed class WaitForDisposePath(InferenceSession session, LayerMask mask, ManualResetEventSlim started) : IDecodePath
    {
        public LayerMask Mask => mask;

        public bool SawDispose { get; private set; }

        public void RunLayers(Transformer transformer, KvCache cache, int position)
        {
            started.Set();
            var deadline = DateTime.UtcNow + Patience;
            while (!session.IsDisposed && DateTime.UtcNow < deadline) Thread.Sleep(1);
            SawDispose = session.IsDisposed;
            new MaskedPath(mask).RunLayers(transformer, cache, position);
        }
    }

    [Fact]
    public void Dispose_during_a_step_waits_for_the_step_which_completes_with_correct_logits()
    {
        using var reference = _model.CreateSession(new SessionOptions { Threads = 2 });
        var expected = reference.Forward(1).ToArray();

        var session = _model.CreateSession(new SessionOptions { Threads = 2 });
        using var started = new ManualResetEventSlim();
        var path = new WaitForDisposePath(session, session.Mask, started);
        float[]? logits = null;
        Exception? failure = null;
        var stepper = new Thread(() =>
        {
            try { logits = session.Forward(1, path).ToArray(); }
            catch (Exception e) { failure = e; }
        });
        stepper.Start();
        Assert.True(started.Wait(Patience), "the step did not start");
        var disposer = new Thread(session.Dispose);
        disposer.Start();

        Assert.True(stepper.Join(Patience), "the step did not finish (deadlock with Dispose?)");
        Assert.True(disposer.Join(Patience), "Dispose did not return after the step ended");
        Assert.True(path.SawDispose, "the step should have run its layers after Dispose began");
        Assert.Null(failure);
        Assert.Equal(expected, logits);
        Assert.Throws<ObjectDisposedException>(() => session.Forward(2));
    }

    [Fact]
    public void A_second_thread_cannot_step_a_session_that_is_running_a_step()
    {
        using var session = _model.CreateSession(new SessionOptions { Threads = 1 });
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var blocking = new BlockingPath(session.Mask, started, release);
        int length = 0;
        var stepper = new Thread(() => length = session.Forward(1, blocking).Length);
        stepper.Start();
        Assert.True(started.Wait(Patience), "the step did not start");
        var e = Assert.Throws<InvalidOperationException>(() => session.Forward(2));
        Assert.Contains("one thread at a time", e.Message);
        release.Set();
        Assert.True(stepper.Join(Patience), "the released step did not finish");
        Assert.Equal(512, length);
        Assert.Equal(1, session.Position);
    }

    private sealed class BlockingPath(LayerMask mask, ManualResetEventSlim started, ManualResetEventSlim release) : IDecodePath
    {
        public LayerMask Mask => mask;

        public void RunLayers(Transformer transformer, KvCache cache, int position)
        {
            started.Set();
            Assert.True(release.Wait(Patience), "the test did not release the step");
            new MaskedPath(mask).RunLayers(transformer, cache, position);
        }
    }

    [Fact]
    public void Cancelling_between_prefill_chunks_stops_with_the_finished_chunks_kept()
    {
        int[] prompt = Prompt(200); // four chunks of 64, 64, 64, 8
        using var uninterrupted = _model.CreateSession(new SessionOptions { Threads = 2 });
        var expected = uninterrupted.Prefill(prompt).ToArray();

        using var session = _model.CreateSession(new SessionOptions { Threads = 2 });
        using var cts = new CancellationTokenSource();
        var reached = new List<int>();
        session.AfterPrefillChunk = position =>
        {
            reached.Add(position);
            if (position == 2 * Transformer.PrefillChunk) cts.Cancel();
        };
        Assert.ThrowsAny<OperationCanceledException>(() => session.Prefill(prompt, cts.Token));
        // Stopped before the third chunk's first layer: two chunks are in the session.
        Assert.Equal(new[] { 64, 128 }, reached);
        Assert.Equal(128, session.Position);

        // The session stays usable: the rest of the prompt continues where the cancelled prefill stopped...
        session.AfterPrefillChunk = null;
        var resumed = session.Prefill(prompt.AsSpan(session.Position)).ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - resumed[i]) <= 1e-5, $"logit {i}: resumed {resumed[i]} vs uninterrupted {expected[i]}");
        // ...and after Reset the whole prompt gives exactly the uninterrupted logits.
        session.Reset();
        Assert.Equal(expected, session.Prefill(prompt).ToArray());
    }

    [Fact]
    public void Cancelling_during_synchronous_enumeration_throws_and_records_the_tokens_so_far()
    {
        var generator = new TextGenerator(_model, TextTokenizer.Load(SharedModels.Tok512), new SessionOptions { Threads = 2 });
        var options = new GenerationOptions { MaxSteps = 200, StopTokens = [], Sampling = new SamplerOptions { Temperature = 0 } };
        using var cts = new CancellationTokenSource();
        var run = generator.Generate("Once upon a time", options, cts.Token);
        var seen = new List<int>();
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var token in run)
            {
                seen.Add(token.Id);
                if (seen.Count == 5) cts.Cancel();
            }
        });
        Assert.Equal(5, seen.Count);
        Assert.Equal(StopReason.Cancelled, run.Stats.StopReason);
        Assert.Equal(5, run.Stats.GeneratedTokens);
        // The tokens before the cancellation are the ones an uncancelled run gives.
        Assert.Equal(seen, generator.Generate("Once upon a time", options).Take(5).Select(t => t.Id));

        // A token cancelled before enumeration stops in the prefill, before any token.
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var early = generator.Generate(string.Concat(Enumerable.Repeat("a long prompt ", 20)), options, cancelled.Token);
        Assert.ThrowsAny<OperationCanceledException>(() => early.ToList());
        Assert.Equal(StopReason.Cancelled, early.Stats.StopReason);
        Assert.Equal(0, early.Stats.GeneratedTokens);
    }
}
