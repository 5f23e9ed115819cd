using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Training.Demo;
using Xunit;

namespace FiRST.Training.Tests;

/// <summary><c>first train-demo</c> is deterministic under a seed: same seed, same bytes.</summary>
public sealed class DemoTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("first-demo").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheSameSeedGivesTheSameWeightsAndAnotherSeedDoesNot()
    {
        var tiny = new DemoTrainingOptions { Steps = 6, Batch = 8, WarmupSteps = 2, Dim = 32, HiddenDim = 64, Layers = 3, Heads = 2, KvHeads = 1, TaskWeights = "copy=1,recall=1,add=2" };
        byte[] Train(string name, DemoTrainingOptions o)
        {
            string dir = Path.Combine(_dir, name);
            DemoTraining.Run(o, dir, _ => { });
            return File.ReadAllBytes(Path.Combine(dir, "model.bin"));
        }
        byte[] a = Train("a", tiny), b = Train("b", tiny), c = Train("c", tiny with { Seed = tiny.Seed + 1 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void ModelBinHoldsTheWeightsMovingAverageAndTheLastStepIsWrittenBesideIt()
    {
        var tiny = new DemoTrainingOptions { Steps = 1, Batch = 4, WarmupSteps = 1, Dim = 32, HiddenDim = 64, Layers = 2, Heads = 2, KvHeads = 1, TaskWeights = "copy=1", EmaDecay = 0.5 };
        float[] Weights(string name, string file = "model.bin")
        {
            // llama2.c layout: seven int32 header fields, then float32 weights.
            var bytes = File.ReadAllBytes(Path.Combine(_dir, name, file));
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(28)).ToArray();
        }
        DemoTraining.Run(tiny with { Steps = 0, EmaDecay = 0 }, Path.Combine(_dir, "init"), _ => { });
        DemoTraining.Run(tiny with { EmaDecay = 0 }, Path.Combine(_dir, "plain"), _ => { });
        DemoTraining.Run(tiny, Path.Combine(_dir, "ema"), _ => { });
        float[] init = Weights("init"), plain = Weights("plain"), last = Weights("ema", "model.last-step.bin"), average = Weights("ema");
        // Averaging does not change training: the last step's weights are those of a run without it.
        Assert.Equal(plain, last);
        Assert.False(File.Exists(Path.Combine(_dir, "plain", "model.last-step.bin")));
        // After one step the decay is ramped to min(0.5, (1 + 0) / (10 + 0)) = 0.1: a tenth of the initial
        // weights and nine tenths of the trained ones.
        Assert.NotEqual(last, average);
        int moved = 0;
        for (int i = 0; i < init.Length; i++)
        {
            Assert.Equal(0.1f * init[i] + 0.9f * last[i], average[i], 1e-6f);
            if (init[i] != last[i]) moved++;
        }
        Assert.True(moved > init.Length / 2, $"one step moved only {moved} of {init.Length} weights");
    }

    [Fact]
    public void TheCommandReportsItsStepsAsPlainLinesWhenNotOnATerminal()
    {
        string dir = Path.Combine(_dir, "cli");
        var r = FiRST.Runtime.Tests.Support.FirstCli.RunWith((a, output, error, _) => FiRST.Training.Cli.Program.Run(a, output, error),
                                                             "train-demo", "--steps", "2", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        // Step 1 (every 50th) and the last: each its line with loss and ETA.
        var lines = r.Stderr.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^step +1/2  loss \d+\.\d{4} .* ETA \d\d:\d\d$", lines[0]);
        Assert.Matches(@"^step +2/2  loss ", lines[1]);
        Assert.StartsWith($"wrote {Path.Combine(dir, "model.bin")}", r.Stdout);
    }

    [Theory]
    [InlineData("--batch", "0", "--batch must be at least 1")]
    [InlineData("--lr", "0", "--lr must be a positive number")]
    [InlineData("--heads", "5", "--heads 5 must divide --dim 128")]
    [InlineData("--kv-heads", "3", "--kv-heads 3 must divide --heads")]
    [InlineData("--context", "40", "--context must be at least 68")]
    [InlineData("--ema", "1", "--ema must be within [0, 1)")]
    [InlineData("--lr-floor", "1.5", "--lr-floor must be within [0, 1]")]
    [InlineData("--weight-decay", "1", "--weight-decay must be within [0, 1)")]
    public void BadShapeOptionsAreOneLineErrors(string option, string value, string expected)
    {
        var r = FiRST.Runtime.Tests.Support.FirstCli.RunWith((a, output, error, _) => FiRST.Training.Cli.Program.Run(a, output, error),
                                                             "train-demo", "--steps", "1", "--out", Path.Combine(_dir, "bad"), option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(File.Exists(Path.Combine(_dir, "bad", "model.bin")));
    }

    [Fact]
    public void TheLearningRateWarmsUpThenFallsToItsFloor()
    {
        var o = new DemoTrainingOptions { Steps = 1000, WarmupSteps = 100, LearningRate = 2e-3, LearningRateFloor = 0.1 };
        Assert.Equal(2e-5, DemoTraining.LearningRate(o, 0), 12);
        Assert.Equal(2e-3, DemoTraining.LearningRate(o, 99), 12);
        Assert.Equal(2e-3, DemoTraining.LearningRate(o, 100), 12);
        // --lr-floor 0.1 ends at a tenth of the peak; 0 (the committed recipe) at zero.
        Assert.Equal(2e-4, DemoTraining.LearningRate(o, 1000), 12);
        Assert.Equal(0, DemoTraining.LearningRate(o with { LearningRateFloor = 0 }, 1000), 12);
        Assert.Equal(1.1e-3, DemoTraining.LearningRate(o, 550), 12);
        Assert.Equal(1e-3, DemoTraining.LearningRate(o with { LearningRateFloor = 0 }, 550), 12);
    }
}
