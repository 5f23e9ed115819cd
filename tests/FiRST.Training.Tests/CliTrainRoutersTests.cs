using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Training.Tests;

/// <summary><c>first-train train-routers</c> end to end (here, where libtorch is referenced), then <c>first generate</c> on what it wrote.</summary>
public sealed class CliTrainRoutersTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("first-cli-routers").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string File(string name) => Path.Combine(_root, name);

    /// <summary><c>first-train</c>, in-process.</summary>
    private static FirstCli.Result FirstTrain(params string[] args) =>
        FirstCli.RunWith((a, output, error, _) => FiRST.Training.Cli.Program.Run(a, output, error), args);

    [Fact]
    public void TrainRoutersSweepsLambdaDataFreeOnStories260K()
    {
        // The output folder does not exist yet: the command creates it.
        string outPath = File(Path.Combine("new", "s.routers.bin")), report = File("sweep.md");
        var r = FirstTrain("train-routers", "--model", RouterTests.Stories260K, "--self-generated", "--samples", "16", "--steps", "3",
                             "--batch", "4", "--lambda", "0.01,0.1", "--eval-prompts", "3", "--out", outPath, "--report", report, "--lora-rank", "2",
                             "--hard-from", "0.5", "--learning-rate", "0.02");
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (string l in new[] { "0.01", "0.1" })
        {
            var routers = RouterSet.Load(File($"new/s.lambda{l}.routers.bin"));
            Assert.Equal(5, routers.Layers);
            Assert.Equal(64, routers.Dim);
            Assert.Equal(2, Runtime.Adapters.LoraAdapter.Load(File($"new/s.lambda{l}.lora.bin")).Rank);
        }
        // The adapters merge at load in the CLI too.
        string tok = Path.Combine(Path.GetDirectoryName(RouterTests.Stories260K)!, "tok512.bin");
        var gen = FirstCli.Run("generate", "--model", RouterTests.Stories260K, "--tokenizer", tok, "--adapter", File("new/s.lambda0.1.lora.bin"),
                               "--routers", File("new/s.lambda0.1.routers.bin"), "--steps", "8", "--temperature", "0");
        Assert.True(gen.ExitCode == 0, gen.Stderr);
        Assert.Contains("routers: mask ", gen.Stderr);
        var rows = System.IO.File.ReadAllLines(report).Where(l => l.StartsWith("| 0.")).ToArray();
        Assert.Equal(2, rows.Length);
        // Redirected (here, a test's writer), progress is the plain lines: the steps, and what was trained and written.
        Assert.Contains("lambda 0.1 step", r.Stderr);
        Assert.Contains("training routers on ", r.Stderr);
        Assert.Contains($"wrote {File(Path.Combine("new", "s.lambda0.1.routers.bin"))}", r.Stderr);
        Assert.DoesNotContain('\u001b', r.Stderr);

        var bad = FirstTrain("train-routers", "--model", RouterTests.Stories260K, "--out", outPath);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("give --tasks", bad.Stderr);
        foreach (var (option, value) in new[] { ("--hard-from", "1.5"), ("--learning-rate", "0"), ("--learning-rate", "NaN"), ("--router-gradient", "fast") })
        {
            var wrong = FirstTrain("train-routers", "--model", RouterTests.Stories260K, "--self-generated", option, value, "--out", outPath);
            Assert.Equal(1, wrong.ExitCode);
            Assert.Contains(option, wrong.Stderr);
            Assert.DoesNotContain("   at ", wrong.Stderr);
        }
    }

    [Fact]
    public void TrainRoutersFromAProfileRoutesTheTasksToItsMasks()
    {
        string profile = Path.Combine(DefaultModelTests.ModelDirectory, "model.first.json"), outPath = File("p.routers.bin");
        var r = FirstTrain("train-routers", "--from-profile", profile, "--steps", "60", "--eval-prompts", "10", "--out", outPath);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(8, RouterSet.Load(outPath).Layers);
        Assert.Contains("training routers to the masks of ", r.Stderr);
        Assert.Contains("profile masks step   60/60", r.Stderr);
        // One row per task of the profile, with the profile's mask and the share of held-out prompts routed to it.
        var masks = Runtime.Profiles.ModelProfile.Load(profile).Tasks.ToDictionary(t => t.Name, t => t.Mask(8).ToString());
        foreach (var (task, mask) in masks) Assert.Matches($@"\| {task} \| {mask} \| [\d.]+ % \| [01]{{8}} \|", r.Stdout);

        var bad = FirstTrain("train-routers", "--from-profile", profile, "--lambda", "0.1", "--out", outPath);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--from-profile trains the routers to the profile's masks", bad.Stderr);
        Assert.Single(bad.Stderr.Trim().Split('\n'));
    }
}
