using FiRST.Runtime;
using FiRST.Runtime.Paths;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first generate</c> compiles the embedded model's task path before the model is loaded, by running one step on
/// a blank model of the same shape: that only pays if the blank model takes the very path the real run takes.
/// </summary>
public sealed class CliWarmUpTests
{
    private static string DemoModelPath => Path.Combine(AppContext.BaseDirectory, "demo", "model.bin");

    [Fact]
    public void A_blank_model_of_the_embedded_shape_runs_each_task_path_compiled_with_zero_logits()
    {
        var config = LlamaModel.ReadConfig(DemoModelPath);
        using var blank = LlamaModel.Blank(config);
        using var real = LlamaModel.Load(DemoModelPath);
        foreach (var task in Enum.GetValues<DemoModel.Task>())
        {
            var path = DemoModel.PathFor(task);
            using var session = blank.CreateSession(new SessionOptions { Path = path, Threads = 1 });
            var logits = session.Forward(0).ToArray();
            Assert.Equal(config.VocabSize, logits.Length);
            Assert.All(logits, v => Assert.Equal(0f, v));
            // The generated path itself runs, as it does on the real weights: not the generic loop.
            Assert.IsAssignableFrom<ICompiledPath>(session.DecodePath);
            Assert.Same(path, session.DecodePath);
            using var realSession = real.CreateSession(new SessionOptions { Path = path, Threads = 1 });
            Assert.Same(session.DecodePath, realSession.DecodePath);
            Assert.Equal(realSession.Mask, session.Mask);
        }
    }

    [Fact]
    public void The_blank_model_is_float32_and_as_small_as_its_largest_matrix()
    {
        var config = LlamaModel.ReadConfig(DemoModelPath);
        using var blank = LlamaModel.Blank(config);
        Assert.False(blank.Weights.IsQuantized);
        Assert.Equal("f32", blank.Weights.FormatName);
        // Every matrix views the same zeros: one buffer of the largest matrix, not a copy of the model.
        Assert.True(blank.Weights.TokenEmbedding.SameMemory(blank.Weights.Layers[0]!.Wq));
        Assert.True(blank.Weights.Layers[^1]!.W2.SameMemory(blank.Weights.Classifier));
    }
}
