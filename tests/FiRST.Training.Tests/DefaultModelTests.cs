using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using System.Text.Json;
using FiRST.Runtime;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Demo;
using FiRST.Training.Tasks;
using Xunit;

namespace FiRST.Training.Tests;

/// <summary>The committed embedded model does what its committed evaluation report says, run by the C# runtime.</summary>
public sealed class DefaultModelTests
{
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

    [Fact]
    public void CommittedModelMatchesItsClaimedAccuracyOn100PromptsPerTask()
    {
        string dir = ModelDirectory;
        var claims = JsonSerializer.Deserialize<List<TaskAccuracy>>(File.ReadAllText(Path.Combine(dir, "eval.json")))!;
        using var model = LlamaModel.Load(Path.Combine(dir, "model.bin"));
        Assert.True(new FileInfo(Path.Combine(dir, "model.bin")).Length < 10_000_000);
        var tokenizer = TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin"));
        var measured = TaskEvaluation.Run(model, tokenizer, claims.Select(c => TaskGenerator.Find(c.Task)), prompts: 100, everyLayer: false);
        foreach (var (claim, actual) in claims.Zip(measured))
        {
            // 100 of the report's prompts (the same seed): the share may differ from 500 prompts by sampling noise.
            Assert.True(actual.Full >= claim.Full - 0.05, $"{claim.Task}: claimed {claim.Full:P1} on {claim.Prompts} prompts, measured {actual.Full:P1} on 100");
        }
    }

    [Fact]
    public void CommittedModelNeedsDifferentDepthsPerTaskAndTheRuntimeAgreesAtEveryExit()
    {
        // On the report's 500 prompts per task: every task at least 98% with the full model; exiting at 60% of the
        // depth (the last exit at or before it), at least two tasks keep 95% and at least one does not.
        string dir = ModelDirectory;
        var claims = JsonSerializer.Deserialize<List<TaskAccuracy>>(File.ReadAllText(Path.Combine(dir, "eval.json")))!;
        using var model = LlamaModel.Load(Path.Combine(dir, "model.bin"));
        int layers = model.Config.NLayers;
        Assert.All(claims, c => Assert.Equal(layers, c.ByExitLayer.Count));
        Assert.All(claims, c => Assert.True(c.Prompts >= 500 && c.Full >= 0.98, $"{c.Task}: {c.Full:P1} on {c.Prompts} prompts"));
        int sixtyPercent = layers * 3 / 5;
        Assert.True(claims.Count(c => c.ByExitLayer[sixtyPercent - 1] >= 0.95) >= 2, $"fewer than two tasks keep 95% after {sixtyPercent} of {layers} layers");
        var deep = claims.Where(c => c.ByExitLayer[sixtyPercent - 1] < 0.95).Select(c => c.Task).ToArray();
        Assert.True(deep.Length >= 1, $"every task keeps 95% after {sixtyPercent} of {layers} layers");

        // The C# runtime's early exits on the report's prompts give the report's numbers at every depth (one
        // prompt of slack), and show the tasks needing different depths: at 60% of the depth the shallow tasks
        // are solved and the deep one is still short of its full-model accuracy.
        var tokenizer = TextTokenizer.Load(Path.Combine(dir, "tokenizer.bin"));
        var measured = TaskEvaluation.Run(model, tokenizer, claims.Select(c => TaskGenerator.Find(c.Task)), prompts: claims[0].Prompts, everyLayer: true);
        foreach (var (claim, actual) in claims.Zip(measured))
            for (int k = 0; k < layers; k++)
                Assert.True(Math.Abs(actual.ByExitLayer[k] - claim.ByExitLayer[k]) <= 1.0 / claim.Prompts + 1e-9,
                            $"{claim.Task} after {k + 1} layers: claimed {claim.ByExitLayer[k]:P1}, measured {actual.ByExitLayer[k]:P1} on {claim.Prompts} prompts");
        var atSixty = measured.ToDictionary(m => m.Task, m => (Exit: m.ByExitLayer[sixtyPercent - 1], m.Full));
        Assert.True(atSixty["copy"].Exit >= 0.95, $"copy after {sixtyPercent} layers: {atSixty["copy"].Exit:P1}");
        foreach (string task in deep)
            Assert.True(atSixty[task].Exit < atSixty[task].Full, $"{task} after {sixtyPercent} layers: {atSixty[task].Exit:P1}, full model {atSixty[task].Full:P1}");
    }
}
