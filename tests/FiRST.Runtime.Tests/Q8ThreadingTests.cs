using FiRST.Runtime.Paths;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// int8 weights with several threads, on every way a session chooses its layers: all layers, a layer mask,
/// a generated path, routers. Threads split the rows of each product (every row is one thread's whole dot
/// product) and the heads of attention, so the result must equal the single-thread one bit for bit; any
/// difference is a race or a chunk computed twice or not at all.
/// </summary>
public sealed class Q8ThreadingTests
{
    private static int[] Prompt(int length) => Enumerable.Range(0, length).Select(i => 1 + i * 53 % 500).ToArray();

    /// <summary>A batched prefill of <paramref name="prompt"/>, then greedy decode steps; every step's logits.</summary>
    private static List<float[]> Run(LlamaModel model, SessionOptions options, int[] prompt, int steps, Action<InferenceSession>? check = null)
    {
        using var session = model.CreateSession(options);
        var all = new List<float[]> { session.Prefill(prompt).ToArray() };
        check?.Invoke(session);
        for (int i = 0; i < steps; i++) all.Add(session.Forward(Kernels.Ops.ArgMax(all[^1])).ToArray());
        return all;
    }

    private static void AssertSameLogits(List<float[]> expected, List<float[]> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int s = 0; s < expected.Count; s++)
            Assert.True(expected[s].AsSpan().SequenceEqual(actual[s]), $"{what}: step {s} differs from one thread");
    }

    public static TheoryData<string> Stories260KCases => new() { "all", "mask", "generated", "routers" };

    [Theory]
    [MemberData(nameof(Stories260KCases))]
    public void Q8_on_several_threads_equals_one_thread_on_stories260K(string how)
    {
        SharedModels.Require();
        using var model = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q8 });
        Assert.True(model.Weights.IsQuantized);
        var rng = new Random(3);
        var routers = new RouterSet(5, 64, Enumerable.Range(0, 5 * 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [2f, 0f, 0f, 0f, 2f]);
        SessionOptions Options(int threads) => how switch
        {
            "all" => new SessionOptions { Threads = threads },
            "mask" => new SessionOptions { Threads = threads, Mask = LayerMask.FromKept(5, [0, 1, 3]) },
            // [0, 2, 4] is Reverse's mask in the compiled profile: the session decodes on its generated path.
            "generated" => new SessionOptions { Threads = threads, Mask = LayerMask.FromKept(5, [0, 2, 4]), Paths = Stories260KProfile.Paths },
            "routers" => new SessionOptions { Threads = threads, Routers = routers, Paths = Stories260KProfile.Paths },
            _ => throw new ArgumentException(how),
        };
        void Check(InferenceSession s)
        {
            if (how == "generated") Assert.IsNotType<MaskedPath>(s.DecodePath);
            if (how == "routers") Assert.NotNull(s.Routing);
        }
        // 100 positions: two chunks of the batched prefill (the int8 matrix-matrix kernel), the second one
        // partial, then decode. Three threads: row counts rarely divide evenly among them.
        int[] prompt = Prompt(100);
        var one = Run(model, Options(1), prompt, 16, Check);
        AssertSameLogits(one, Run(model, Options(3), prompt, 16, Check), $"{how}, 3 threads");
    }

    [Fact]
    public void Q8_on_several_threads_equals_one_thread_on_the_routed_demo_model()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "demo");
        using var model = LlamaModel.Load(Path.Combine(dir, "model.bin"), new ModelLoadOptions { Format = WeightFormat.Q8 });
        var tokenizer = TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(dir, "model.routers.bin"));
        foreach (string prompt in new[] { "copy kqz1 =>", "905+96=" })
        {
            string? path = null;
            List<float[]> Routed(int threads) => Run(model, new SessionOptions { Threads = threads, Routers = routers, Paths = DemoProfileModel.Paths },
                tokenizer.Encode(prompt), 8, s => path ??= s.DecodePath.GetType().Name);
            var one = Routed(1);
            Assert.NotEqual(nameof(MaskedPath), path);
            AssertSameLogits(one, Routed(3), $"'{prompt}' on {path}, 3 threads");
        }
    }
}
