using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Model;
using FiRST.Training.Routers;
using FiRST.Training.Tasks;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FiRST.Training.Tests;

/// <summary>Router training (TorchSharp) computes what routed prefill (C#) computes, and learns from its loss.</summary>
public sealed class RouterTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

    internal static string Stories260K => Path.GetFullPath(Path.Combine(DefaultModelTests.RepoRoot, "..", "shared", "models", "stories260K.bin"));

    private static RouterSet RandomRouters(int layers, int dim, int seed)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, layers * dim).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.3f).ToArray();
        var b = Enumerable.Range(0, layers).Select(l => l % 2 == 0 ? 0.6f : -0.6f).ToArray();
        return new RouterSet(layers, dim, w, b);
    }

    [Fact]
    public void HardGatedTrainingForwardEqualsRoutedPrefillOnStories260K()
    {
        using var model = LlamaModel.Load(Stories260K);
        var config = model.Config;
        var routerSet = RandomRouters(config.NLayers, config.Dim, seed: 3);
        using var llama = new TorchLlama(config);
        llama.LoadFrom(model);
        using var routers = new TorchRouters(config.NLayers, config.Dim, config.NormEps, 0f);
        routers.CopyFrom(routerSet);
        // The module's routers are the file's routers.
        var back = routers.ToRouterSet();
        for (int l = 0; l < config.NLayers; l++) Assert.True(back.Weights(l).SequenceEqual(routerSet.Weights(l)) && back.Bias(l) == routerSet.Bias(l));

        // 100 tokens: two prefill chunks in the runtime.
        var rng = new Random(4);
        int[] prompt = Enumerable.Range(0, 100).Select(_ => rng.Next(config.VocabSize)).ToArray();
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routerSet });
        var runtimeLogits = session.Prefill(prompt).ToArray();
        var decision = session.Routing!;

        using var _ = no_grad();
        var tokens = tensor(prompt.Select(t => (long)t).ToArray()).reshape(1, prompt.Length);
        var (logits, pooled) = GatedForward.Run(llama, routers, tokens, ones(1, prompt.Length), hard: true, threshold: 0.5f);
        var p = pooled.data<float>().ToArray();
        for (int l = 0; l < config.NLayers; l++)
        {
            Assert.True(Math.Abs(p[l] - decision.Probabilities[l]) < 1e-4, $"layer {l}: torch {p[l]} vs runtime {decision.Probabilities[l]}");
            Assert.Equal(p[l] >= 0.5f, decision.Mask.IsKept(l));
        }
        Assert.InRange(decision.Mask.KeptCount, 1, config.NLayers - 1);
        var last = logits[0, prompt.Length - 1].data<float>().ToArray();
        double worst = last.Zip(runtimeLogits, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 1e-3, $"max abs logit diff {worst}");

        // Forcing the gates the routers chose gives the same pooled outputs: what distillation trains on is what
        // routed prefill computes when the routers decide as the forced gates do.
        var (_, hardP, gates) = GatedForward.RunHard(llama, routers, tokens, ones(1, prompt.Length), threshold: 0.5f);
        var forced = GatedForward.RunForced(llama, routers, tokens, ones(1, prompt.Length), gates).data<float>().ToArray();
        Assert.Equal(hardP.data<float>().ToArray(), forced);
    }

    [Fact]
    public void DistilledRoutersRouteEachTaskToItsProfileMask()
    {
        string dir = DefaultModelTests.ModelDirectory;
        using var model = LlamaModel.Load(Path.Combine(dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin"));
        // Masks no router file of the repository gives these tasks: copy keeps layer 5, addition drops layer 3.
        var targets = new[] { (TaskGenerator.Find("copy"), LayerMask.FromKept(8, [0, 1, 2, 3, 4, 5])), (TaskGenerator.Find("add4"), LayerMask.FromKept(8, [0, 1, 2, 4])) };
        var result = RouterDistillation.Run(model, tokenizer, targets, new RouterTrainingOptions { Steps = 150, Batch = 32 });
        _output.WriteLine($"{result}");
        // Held-out prompts, routed by the C# runtime as at inference: nearly all get their task's mask (the training
        // prompts' smoothed share is the result's Matched).
        var routed = RouterEvaluation.Tasks(model, tokenizer, result.Routers, 0.5f, targets.Select(t => t.Item1), prompts: 40);
        foreach (var (r, (task, mask)) in routed.Zip(targets))
        {
            _output.WriteLine($"{task.Name}: {string.Join(", ", r.MaskCounts.Select(kv => $"{kv.Key} x{kv.Value}"))}");
            Assert.True(r.MaskCounts.GetValueOrDefault(mask.ToString()) >= 36, $"{task.Name}: {r.MaskCounts.GetValueOrDefault(mask.ToString())} of 40 routed to {mask}");
        }
        Assert.InRange(result.Matched, 0.9, 1);
        Assert.Throws<ArgumentException>(() => RouterDistillation.Run(model, tokenizer, [(TaskGenerator.Find("copy"), LayerMask.All(5))], new RouterTrainingOptions()));
    }

    [Fact]
    public void LoraTrainedInTorchIsWhatTheRuntimeMergesAtLoad()
    {
        using var model = LlamaModel.Load(Stories260K);
        var config = model.Config;
        using var llama = new TorchLlama(config);
        llama.LoadFrom(model);
        using var lora = new TorchLora(config, rank: 2, alpha: 2);
        using (no_grad())
        using (NewDisposeScope())
            foreach (var w in lora.parameters()) w.add_(randn_like(w) * 0.05);
        var adapter = lora.ToAdapter();
        using var merged = LlamaModel.Load(Stories260K, new ModelLoadOptions { Adapter = adapter });
        var routerSet = RandomRouters(config.NLayers, config.Dim, seed: 5);
        using var routers = new TorchRouters(config.NLayers, config.Dim, config.NormEps, 0f);
        routers.CopyFrom(routerSet);

        int[] prompt = Enumerable.Range(0, 30).Select(i => (i * 37 + 11) % config.VocabSize).ToArray();
        using var session = merged.CreateSession(new SessionOptions { Threads = 1, Routers = routerSet });
        var runtimeLogits = session.Prefill(prompt).ToArray();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var tokens = tensor(prompt.Select(t => (long)t).ToArray()).reshape(1, prompt.Length);
        var (logits, pooled) = GatedForward.Run(llama, routers, tokens, ones(1, prompt.Length), hard: true, threshold: 0.5f, lora);
        var p = pooled.data<float>().ToArray();
        for (int l = 0; l < config.NLayers; l++)
            Assert.True(Math.Abs(p[l] - session.Routing!.Probabilities[l]) < 1e-4, $"layer {l}: torch {p[l]} vs runtime {session.Routing!.Probabilities[l]}");
        var last = logits[0, prompt.Length - 1].data<float>().ToArray();
        double worst = last.Zip(runtimeLogits, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 1e-3, $"max abs logit diff {worst}");
        // And the adapter matters: the plain model's logits differ.
        using var plain = model.CreateSession(new SessionOptions { Threads = 1, Routers = routerSet });
        Assert.True(plain.Prefill(prompt).ToArray().Zip(runtimeLogits, (a, b) => Math.Abs(a - b)).Max() > 1e-2);
    }

    [Fact]
    public void RouterTrainingWithLoraLearnsAdapters()
    {
        using var model = LlamaModel.Load(Stories260K);
        var data = SelfGeneratedRouterData.Sample(model, bos: 1, count: 16, length: 32, promptLength: 8, seed: 6);
        var result = RouterTraining.Run(model, data, new RouterTrainingOptions { Steps = 12, Batch = 4, Lambda = 5, LoraRank = 2 });
        var adapter = Assert.IsType<Runtime.Adapters.LoraAdapter>(result.Adapter);
        Assert.Equal(2, adapter.Rank);
        // B starts at zero; training moved it.
        Assert.Contains(Enumerable.Range(0, 7), t => adapter.B(0, t).ToArray().Any(v => v != 0));
        using var merged = LlamaModel.Load(Stories260K, new ModelLoadOptions { Adapter = adapter });
        // Loading with the adapter merges it: a B that moved changes the weights, so the logits differ from the
        // plain model's on the same prompt (a share of agreement in [0, 1] could not fail, so it is not checked).
        using var mergedSession = merged.CreateSession(new SessionOptions { Threads = 1 });
        using var plainSession = model.CreateSession(new SessionOptions { Threads = 1 });
        int[] prompt = data.Sequences[0][..data.PromptLength];
        var mergedLogits = mergedSession.Prefill(prompt).ToArray();
        Assert.True(plainSession.Prefill(prompt).ToArray().Zip(mergedLogits, (a, b) => Math.Abs(a - b)).Max() > 0, "the merged adapter changed nothing");
        Assert.All(mergedLogits, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>The layer of stories260K (of 5) that <see cref="WithIdentityLayer"/> turns into an identity.</summary>
    private const int Identity = 2;

    /// <summary>
    /// stories260K with layer <see cref="Identity"/> made an identity by construction: its attention output and
    /// down projections are zero, so what it adds to the residual stream, <c>attention · Wo + ffn · W2</c>, is
    /// exactly 0 on every input, and <c>x + g · f(x) = x</c> bit for bit whatever its gate <c>g</c>. Nothing is lost
    /// by skipping it, so a router trained against a layer-use penalty must learn to skip it, and without a
    /// penalty its router receives a gradient of exactly zero.
    /// </summary>
    private static LlamaModel WithIdentityLayer(string dir)
    {
        using var original = LlamaModel.Load(Stories260K);
        using var llama = new TorchLlama(original.Config);
        llama.LoadFrom(original);
        using (no_grad())
        {
            llama.Layers[Identity].Wo.zero_();
            llama.Layers[Identity].W2.zero_();
        }
        string path = Path.Combine(dir, "identity.bin");
        llama.SaveLlama2c(path);
        return LlamaModel.Load(path);
    }

    /// <summary>How many of <paramref name="data"/>'s sequences the runtime, routed on their prompts, runs layer <paramref name="layer"/> on.</summary>
    private static int KeptOn(LlamaModel model, RouterSet routers, SelfGeneratedRouterData data, int layer)
    {
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = 0.5f });
        int kept = 0;
        foreach (var s in data.Sequences)
        {
            session.Reset();
            session.Prefill(s.AsSpan(0, data.PromptLength));
            if (session.Routing!.Mask.IsKept(layer)) kept++;
        }
        return kept;
    }

    /// <summary>The router of <paramref name="layer"/> is exactly as <see cref="RouterTrainingOptions.InitialBias"/> starts it: bias 2, weights 0.</summary>
    private static void AssertUntouched(RouterSet routers, int layer)
    {
        Assert.Equal(new RouterTrainingOptions().InitialBias, routers.Bias(layer));
        Assert.All(routers.Weights(layer).ToArray(), w => Assert.Equal(0f, w));
    }

    [Fact]
    public void ThePenaltyTurnsLayersOffAndItsAbsenceKeepsThemOn()
    {
        string dir = Directory.CreateTempSubdirectory("first-identity").FullName;
        try
        {
            using var model = WithIdentityLayer(dir);
            var data = SelfGeneratedRouterData.Sample(model, bos: 1, count: 24, length: 40, promptLength: 12, seed: 5);
            var options = new RouterTrainingOptions { Steps = 40, Batch = 8, LearningRate = 5e-2, HardFrom = 1 };
            var free = RouterTraining.Run(model, data, options with { Lambda = 0 });
            var penalised = RouterTraining.Run(model, data, options with { Lambda = 20 });
            _output.WriteLine($"free: {free}; penalised: {penalised}");
            for (int l = 0; l < 5; l++)
                _output.WriteLine($"layer {l}: bias free {free.Routers.Bias(l):F3} penalised {penalised.Routers.Bias(l):F3}, kept free {KeptOn(model, free.Routers, data, l)} penalised {KeptOn(model, penalised.Routers, data, l)} of {data.Sequences.Count}");

            // Without a penalty the identity layer's router gets a gradient of exactly zero (the loss does not
            // depend on its gate), and Adam moves a parameter with zero gradient by exactly zero: it ends as it
            // started, on any processor.
            AssertUntouched(free.Routers, Identity);

            // With the penalty (20 x mean p) its router feels nothing else: the penalty's gradient is positive in
            // its bias at every step, so Adam lowers the bias at every step (measured: 2 to 1.1) and turns its
            // weights against the pooled states, while every other router gets the same push down less the KL's
            // pull up for a layer that matters. So it is the layer the routers turn off first and most: at
            // inference it is skipped on every sequence (measured: every other layer is still kept on 5 to 18 of
            // the 24, so the identity layer is not merely caught in a general switch-off).
            Assert.Equal(0, KeptOn(model, penalised.Routers, data, Identity));
            Assert.Contains(Enumerable.Range(0, 5), l => l != Identity && KeptOn(model, penalised.Routers, data, l) > 0);

            // Without a penalty the KL pulls every p towards 1, where the gated model is the full model and the KL is
            // 0, so mean p ends above its start, sigmoid(2) = 0.88, less a little slack (measured 0.96; the identity
            // layer's p stays at exactly 0.88); with it, the penalty's slope, 20 / 5 = 4 per unit of each p,
            // dwarfs the KL's (the KL is ~0.05 here), and 40 Adam steps of 0.05 can move a bias by up to 2 (measured
            // 0.44). A gap of 0.1 is a fifth of the measured one.
            Assert.True(free.MeanP >= 0.88 - 0.01, $"mean p without a penalty: {free.MeanP:F3}");
            Assert.True(penalised.MeanP < free.MeanP - 0.1, $"mean p with lambda 20: {penalised.MeanP:F3}, without: {free.MeanP:F3}");
            // Without a penalty the routers minimise the KL alone; with it they skip layers that matter, each of
            // which costs KL (measured: 0.05 against 3.7).
            Assert.True(free.FinalLoss < penalised.FinalLoss, $"KL without penalty {free.FinalLoss:F4}, with {penalised.FinalLoss:F4}");
            // The free routers keep every layer at inference, so the routed model is the full model.
            var freeText = RouterEvaluation.Text(model, free.Routers, 0.5f, data.Sequences, data.PromptLength);
            Assert.Equal(0, freeText.SkippedShare);
            Assert.Equal(1, freeText.Agreement);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CounterfactualGradientsKeepNeededLayersAndThePenaltyStillTurnsLayersOff()
    {
        // Hard gates from the first step, each decision priced by flipping it: without a penalty no layer is worth
        // dropping (each costs KL), with a large one layers go.
        string dir = Directory.CreateTempSubdirectory("first-identity").FullName;
        try
        {
            using var model = WithIdentityLayer(dir);
            var data = SelfGeneratedRouterData.Sample(model, bos: 1, count: 24, length: 40, promptLength: 12, seed: 5);
            var options = new RouterTrainingOptions { Steps = 30, Batch = 8, LearningRate = 5e-2, HardFrom = 0, Gradient = RouterGradient.Counterfactual };
            var free = RouterTraining.Run(model, data, options with { Lambda = 0 });
            var penalised = RouterTraining.Run(model, data, options with { Lambda = 20 });
            _output.WriteLine($"free: {free}; penalised: {penalised}");
            for (int l = 0; l < 5; l++)
                _output.WriteLine($"layer {l}: bias free {free.Routers.Bias(l):F3} penalised {penalised.Routers.Bias(l):F3}, kept free {KeptOn(model, free.Routers, data, l)} penalised {KeptOn(model, penalised.Routers, data, l)} of {data.Sequences.Count}");

            // Flipping the identity layer changes no hidden state (later routers see the same states and decide the
            // same), so its price is exactly 0 on every sample: without a penalty its router's gradient is exactly
            // zero and it ends as it started; with one, the penalty is all it feels, and it is skipped everywhere.
            AssertUntouched(free.Routers, Identity);
            Assert.Equal(0, KeptOn(model, penalised.Routers, data, Identity));

            // Without a penalty: every router starts on (p = sigmoid(2) > 0.5), so the routed model is the full model
            // bit for bit (the same operations on the same inputs, gate 1 x f = f) and its KL is exactly 0; each
            // layer's price, KL with the layer off minus 0, is >= 0, so every step asks for more of every layer and
            // no gate ever turns off. Hence a smoothed KL of exactly 0 and mean p above its start, 0.88 (measured 0.95).
            Assert.Equal(0, free.FinalLoss);
            Assert.True(free.MeanP > 0.8, $"mean p without a penalty: {free.MeanP:F3}");
            // With lambda 20 the penalty's slope (4 per unit p) outweighs the price of the cheap layers (measured:
            // mean p 0.61, the identity layer and layer 4 skipped everywhere); a gap of 0.1 is a third of the measured one.
            Assert.True(penalised.MeanP < free.MeanP - 0.1, $"mean p with lambda 20: {penalised.MeanP:F3}, without: {free.MeanP:F3}");
            Assert.Equal(0, RouterEvaluation.Text(model, free.Routers, 0.5f, data.Sequences, data.PromptLength).SkippedShare);
            Assert.Throws<ArgumentException>(() => RouterTraining.Run(model, data, options with { LoraRank = 2 }));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TaskBatchesMarkPromptAndAnswerPositions()
    {
        string dir = Directory.CreateTempSubdirectory("first-tok").FullName;
        try
        {
            CharTokenizerFile.Write(Path.Combine(dir, "t.bin"));
            var tokenizer = TextTokenizer.Load(Path.Combine(dir, "t.bin"));
            var mix = TaskMix.Uniform(TaskGenerator.Standard);
            var batch = TaskBatch.Draw(tokenizer, new Random(3), mix, 16, 48);
            var promptMask = batch.PromptMask.data<float>().ToArray();
            var answerMask = batch.AnswerMask.data<float>().ToArray();
            long length = batch.Tokens.shape[1];
            var rng = new Random(3);
            for (int b = 0; b < 16; b++)
            {
                // The same draws the batch made: the same example.
                TaskExample e;
                int[] full;
                do
                {
                    e = mix.Draw(rng).TrainingSample(rng);
                    full = [.. tokenizer.Encode(e.Prompt + " " + e.Answer), tokenizer.EosId];
                } while (full.Length > 49);
                int promptTokens = tokenizer.Encode(e.Prompt).Length;
                var row = Enumerable.Range(0, (int)length).Select(t => (int)(b * length + t)).ToArray();
                Assert.Equal(promptTokens, row.Count(i => promptMask[i] == 1));
                Assert.True(row.Take(promptTokens).All(i => promptMask[i] == 1));
                // Answer positions: from the last prompt position (it predicts the first answer token) to EOS.
                Assert.Equal(full.Length - promptTokens, row.Count(i => answerMask[i] == 1));
                Assert.Equal(1, answerMask[row[promptTokens - 1]]);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
