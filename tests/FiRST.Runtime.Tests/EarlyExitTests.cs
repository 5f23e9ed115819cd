using FiRST.Runtime.Decoding;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>
/// Token-level early exit on the dynamic path: a confident token leaves at its exit layer with the exit's
/// logits, and the layers after it get its key and value from the exit hidden state (KV fill).
/// </summary>
public sealed class EarlyExitTests(ITestOutputHelper output)
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "demo");

    [Fact]
    public void AnExitedTokenGetsTheExitLogitsAndItsKvFilledFromTheExitHiddenState()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var c = model.Config;
        int[] prompt = tokenizer.Encode("copy kqz1 =>");
        // Exit allowed after layer 2 only, at a low bar: the first decoded token leaves there.
        var thresholds = new float?[c.NLayers];
        thresholds[2] = 0.05f;
        using var exiting = model.CreateSession(new SessionOptions { Threads = 1, EarlyExit = new EarlyExitOptions(thresholds) });
        using var shallow = model.CreateSession(new SessionOptions { Threads = 1, Mask = LayerMask.FromKept(c.NLayers, [0, 1, 2]) });
        Assert.True(exiting.ExitsEarly);

        int first = Kernels.Ops.ArgMax(exiting.Prefill(prompt));
        shallow.Prefill(prompt);
        float[] logits = exiting.Forward(first).ToArray();
        float[] expected = shallow.Forward(first).ToArray();
        Assert.Equal(1, exiting.EarlyExits);
        Assert.Equal(3, exiting.DecodedLayers);
        // The exit's logits are the three-layer model's, exactly (same kernels in the same order).
        Assert.Equal(expected, logits);

        // KV fill: layer l > 2 holds rope(Wk · rmsnorm_l(h)) and Wv · rmsnorm_l(h) of the exit hidden state h.
        int pos = prompt.Length, kvDim = c.KvDim;
        var h = shallow.Transformer.Hidden.ToArray().Select(v => (double)v).ToArray();
        var reference = new Support.ReferenceTransformer(Support.TestModel.ReadLlama2c(Path.Combine(Dir, "model.bin")));
        for (int l = 3; l < c.NLayers; l++)
        {
            var (k, v) = reference.KeyValue(l, h, pos);
            var cachedK = exiting.Cache.Keys(l).Slice(pos * kvDim, kvDim).ToArray();
            var cachedV = exiting.Cache.Values(l).Slice(pos * kvDim, kvDim).ToArray();
            for (int i = 0; i < kvDim; i++)
            {
                Assert.True(Math.Abs(k[i] - cachedK[i]) < 1e-4, $"layer {l} key {i}: {cachedK[i]} vs {k[i]}");
                Assert.True(Math.Abs(v[i] - cachedV[i]) < 1e-4, $"layer {l} value {i}: {cachedV[i]} vs {v[i]}");
            }
        }
    }

    [Fact]
    public void ThresholdOneExitsOnlyCertainTokensAndKeepsTheFullModelsAnswers()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var options = new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] };
        var never = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, EarlyExit = EarlyExitOptions.Uniform(model.Config.NLayers, 1f) });
        var full = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1 });
        long exits = 0, tokens = 0;
        foreach (string prompt in SpeculationTests.DemoPrompts(5, seed: 3))
        {
            var a = never.Generate(prompt, options);
            var b = full.Generate(prompt, options);
            // A float32 softmax reaches exactly 1 only when every other token is ~e^-17 behind: such tokens may
            // leave, and they are the full model's tokens too.
            Assert.Equal(b.Select(t => t.Id).ToList(), a.Select(t => t.Id).ToList());
            exits += a.Stats.EarlyExits;
            tokens += a.Stats.DecodeSteps;
        }
        output.WriteLine($"threshold 1: {exits} of {tokens} tokens exited");
        Assert.True(exits < tokens, "at threshold 1 some token must go the whole way");
    }

    [Fact]
    public void ConfidentTokensExitEarlyAndTheAnswersStayRight()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var options = new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] };
        var exiting = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, EarlyExit = EarlyExitOptions.Uniform(model.Config.NLayers, 0.9f, firstLayer: 2) });
        var full = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1 });
        int same = 0, total = 0;
        long exits = 0, tokens = 0;
        double depth = 0;
        foreach (string prompt in SpeculationTests.DemoPrompts(25, seed: 4))
        {
            var a = exiting.Generate(prompt, options);
            string answer = string.Concat(a.Text());
            string expected = string.Concat(full.Generate(prompt, options).Text());
            same += answer == expected ? 1 : 0;
            total++;
            exits += a.Stats.EarlyExits;
            tokens += a.Stats.DecodeSteps;
            depth += a.Stats.MeanExitDepth * a.Stats.DecodeSteps;
        }
        output.WriteLine($"threshold 0.9 from layer 2: {same}/{total} answers as the full model's; {exits} of {tokens} tokens exited; mean depth {depth / tokens:F2} of 8");
        Assert.True(exits > tokens / 4, $"only {exits} of {tokens} tokens exited");
        Assert.True(depth / tokens < 7, $"mean depth {depth / tokens:F2}");
        Assert.True(same >= total * 0.9, $"{same}/{total} answers unchanged");
    }

    [Fact]
    public void BadThresholdsAreOneLineErrors()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EarlyExitOptions.Uniform(8, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => EarlyExitOptions.Uniform(8, 1.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => EarlyExitOptions.Uniform(8, float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyExitOptions([null, -0.1f, null]));
        Assert.Throws<ArgumentException>(() => new EarlyExitOptions([null, null]));
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var wrong = Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { EarlyExit = EarlyExitOptions.Uniform(5, 0.9f) }));
        Assert.Contains("name 5 layers but the model has 8", wrong.Message);
    }
}
