using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Loading;
using FiRST.Training.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FiRST.Training.Tests;

/// <summary>The TorchSharp model computes what the C# runtime computes, on the same weight files.</summary>
public sealed class TorchLlamaParityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "first-torch-" + Guid.NewGuid().ToString("N"));

    public TorchLlamaParityTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories260K
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "FiRST.Gen.sln")))
                {
                    string path = Path.GetFullPath(Path.Combine(d.FullName, "..", "shared", "models", "stories260K.bin"));
                    return File.Exists(path) ? path : throw new InvalidOperationException($"the reference model is missing: expected {path}");
                }
            throw new InvalidOperationException("cannot find the repository root");
        }
    }

    [Fact]
    public void Stories260KLogitsMatchTheRuntime() => AssertParity(Stories260K, 40);

    [Fact]
    public void RandomGqaModelLogitsMatchTheRuntime()
    {
        var config = new ModelConfig { Dim = 96, HiddenDim = 200, NLayers = 3, NHeads = 6, NKvHeads = 2, VocabSize = 77, MaxSeqLen = 64 };
        string path = Path.Combine(_dir, "gqa.bin");
        RandomCheckpoint.Write(config, seed: 5, path, std: 0.1f);
        AssertParity(path, 50);
    }

    [Fact]
    public void SavedCheckpointLoadsInTheRuntimeWithTheSameLogits()
    {
        using var runtime = LlamaModel.Load(Stories260K);
        using var torchModel = new TorchLlama(runtime.Config);
        torchModel.LoadFrom(runtime);
        string saved = Path.Combine(_dir, "saved.bin");
        torchModel.SaveLlama2c(saved);
        Assert.Equal(File.ReadAllBytes(Stories260K).Length, new FileInfo(saved).Length);
        AssertParity(saved, 20);
    }

    private static void AssertParity(string path, int tokens)
    {
        using var runtime = LlamaModel.Load(path);
        using var torchModel = new TorchLlama(runtime.Config);
        torchModel.LoadFrom(runtime);
        var rng = new Random(9);
        long[] ids = Enumerable.Range(0, tokens).Select(_ => (long)rng.Next(runtime.Config.VocabSize)).ToArray();

        using var scope = NewDisposeScope();
        float[] all;
        using (no_grad())
            all = torchModel.forward(tensor(ids).reshape(1, tokens)).data<float>().ToArray();

        using var session = runtime.CreateSession(new SessionOptions { Threads = 1 });
        int vocab = runtime.Config.VocabSize;
        double worst = 0;
        for (int t = 0; t < tokens; t++)
        {
            var expected = session.Forward((int)ids[t]);
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(expected[v] - all[t * vocab + v]));
        }
        Assert.True(worst <= 1e-4, $"{Path.GetFileName(path)}: max |torch - runtime| = {worst}");
    }
}
