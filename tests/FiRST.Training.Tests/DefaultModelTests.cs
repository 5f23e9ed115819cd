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

    internal static string ModelDirectory => Path.Combine(RepoRoot, "src", "FiRST.Cli", "DefaultModel");

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
}
