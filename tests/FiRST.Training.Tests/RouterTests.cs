using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Model;
using FiRST.Training.Routers;
using FiRST.Training.Tasks;
using Xunit;
using static TorchSharp.torch;

namespace FiRST.Training.Tests;

/// <summary>Router training (TorchSharp) computes what routed prefill (C#) computes, and learns from its loss.</summary>
public sealed class RouterTests
{
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
        Assert.InRange(RouterEvaluation.Text(merged, result.Routers, 0.5f, data.Sequences, data.PromptLength).Agreement, 0, 1);
    }

    [Fact]
    public void ThePenaltyTurnsLayersOffAndItsAbsenceKeepsThemOn()
    {
        using var model = LlamaModel.Load(Stories260K);
        var data = SelfGeneratedRouterData.Sample(model, bos: 1, count: 24, length: 40, promptLength: 12, seed: 5);
        var options = new RouterTrainingOptions { Steps = 40, Batch = 8, LearningRate = 5e-2, HardFrom = 1 };
        var free = RouterTraining.Run(model, data, options with { Lambda = 0 });
        var penalised = RouterTraining.Run(model, data, options with { Lambda = 20 });
        Assert.True(penalised.MeanP < free.MeanP - 0.1, $"mean p with lambda 20: {penalised.MeanP:F3}, without: {free.MeanP:F3}");
        Assert.True(free.FinalLoss < penalised.FinalLoss, $"KL without penalty {free.FinalLoss:F4}, with {penalised.FinalLoss:F4}");

        // The trained routers run in the runtime and skip layers there too.
        var result = RouterEvaluation.Text(model, penalised.Routers, 0.5f, data.Sequences, data.PromptLength);
        Assert.True(result.SkippedShare > 0, $"penalised routers skipped nothing: {result}");
        Assert.InRange(result.Agreement, 0, 1);
    }

    [Fact]
    public void CounterfactualGradientsKeepNeededLayersAndThePenaltyStillTurnsLayersOff()
    {
        // Hard gates from the first step, each decision priced by flipping it: without a penalty no layer is worth
        // dropping (each costs KL), with a large one layers go.
        using var model = LlamaModel.Load(Stories260K);
        var data = SelfGeneratedRouterData.Sample(model, bos: 1, count: 24, length: 40, promptLength: 12, seed: 5);
        var options = new RouterTrainingOptions { Steps = 30, Batch = 8, LearningRate = 5e-2, HardFrom = 0, Gradient = RouterGradient.Counterfactual };
        var free = RouterTraining.Run(model, data, options with { Lambda = 0 });
        var penalised = RouterTraining.Run(model, data, options with { Lambda = 20 });
        Assert.True(free.MeanP > 0.8, $"mean p without a penalty: {free.MeanP:F3}");
        Assert.True(penalised.MeanP < free.MeanP - 0.1, $"mean p with lambda 20: {penalised.MeanP:F3}, without: {free.MeanP:F3}");
        Assert.Equal(0, RouterEvaluation.Text(model, free.Routers, 0.5f, data.Sequences, data.PromptLength).SkippedShare);
        Assert.True(RouterEvaluation.Text(model, penalised.Routers, 0.5f, data.Sequences, data.PromptLength).SkippedShare > 0);
        Assert.Throws<ArgumentException>(() => RouterTraining.Run(model, data, options with { LoraRank = 2 }));
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
