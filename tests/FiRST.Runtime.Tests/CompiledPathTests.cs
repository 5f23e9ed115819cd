using FiRST.Runtime.Paths;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// The compiled decoder (<see cref="CompiledPath{TShape}"/>) against the generic masked loop: every generated
/// path of the embedded model's profile and of two hand-written shapes (what the generator would emit for
/// them), float32, int8 and 4-bit (int8 activations) at 1, 2 and 3 threads, bfloat16 at 1 and 2. The contract: logits within 1e-4 of their RMS
/// over a greedy decode; the generic loop keeps byte parity with run.c, the compiled one only this.
/// </summary>
public sealed class CompiledPathTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, int, WeightFormat> DemoCases()
    {
        var data = new TheoryData<string, int, WeightFormat>();
        foreach (var format in new[] { WeightFormat.AsStored, WeightFormat.Q8, WeightFormat.Q4 })
            foreach (int threads in new[] { 1, 2, 3 })
                foreach (var path in DemoPaths)
                    data.Add(path.Key, threads, format);
        return data;
    }

    private static readonly Dictionary<string, IDecodePath> DemoPaths = new()
    {
        ["copy"] = DemoProfileModel.PathFor(DemoProfileModel.Task.Copy),
        ["reverse"] = DemoProfileModel.PathFor(DemoProfileModel.Task.Reverse),
        ["sort"] = DemoProfileModel.PathFor(DemoProfileModel.Task.Sort),
        ["add4"] = DemoProfileModel.PathFor(DemoProfileModel.Task.Add4),
        ["full"] = DemoProfileModel.FullPath.Instance,
    };

    [Theory]
    [MemberData(nameof(DemoCases))]
    public void DemoPathsMatchTheGenericLoop(string task, int threads, WeightFormat format)
    {
        using var model = LlamaModel.Load(Path.Combine(AppContext.BaseDirectory, "demo", "model.bin"), new ModelLoadOptions { Format = format });
        AssertMatchesGeneric(model, DemoPaths[task], threads, prompt: [1, 5, 9, 12, 7], steps: 40);
    }

    public static TheoryData<string, int, WeightFormat> RandomCases()
    {
        var data = new TheoryData<string, int, WeightFormat>();
        foreach (var format in new[] { WeightFormat.AsStored, WeightFormat.Q8, WeightFormat.Q4 })
            foreach (int threads in new[] { 1, 2, 3 })
                foreach (string shape in new[] { "narrow", "wide" })
                    data.Add(shape, threads, format);
        return data;
    }

    [Theory]
    [MemberData(nameof(RandomCases))]
    public void RandomShapesMatchTheGenericLoop(string shape, int threads, WeightFormat format)
    {
        using var dir = new TempDir();
        var (config, paths) = shape == "narrow"
            ? (Config<NarrowShape>(), new IDecodePath[] { NarrowPaths.Odd.Instance, NarrowPaths.All.Instance })
            : (Config<WideShape>(), new IDecodePath[] { WidePaths.Skip2.Instance });
        string file = dir.File("model.bin");
        TestModel.Random(config, seed: 7).WriteLlama2c(file);
        using var model = LlamaModel.Load(file, new ModelLoadOptions { Format = format });
        foreach (var path in paths)
            AssertMatchesGeneric(model, path, threads, prompt: [3, 1, 4, 1, 5, 9, 2, 6], steps: 24);
    }

    [Theory]
    [InlineData("narrow", 1)]
    [InlineData("narrow", 2)]
    [InlineData("wide", 1)]
    [InlineData("wide", 2)]
    public void BFloat16ShapesMatchTheGenericLoop(string shape, int threads)
    {
        using var dir = new TempDir();
        var (config, paths) = shape == "narrow"
            ? (Config<NarrowShape>(), new IDecodePath[] { NarrowPaths.Odd.Instance, NarrowPaths.All.Instance })
            : (Config<WideShape>(), new IDecodePath[] { WidePaths.Skip2.Instance });
        string hf = dir.File("hf");
        TestModel.Random(config, seed: 7, round: TestModel.ToBFloat16).WriteSafetensors(hf, "BF16");
        using var model = LlamaModel.Load(hf);
        Assert.Equal("bf16", model.Weights.FormatName);
        foreach (var path in paths)
            AssertMatchesGeneric(model, path, threads, prompt: [3, 1, 4, 1, 5, 9, 2, 6], steps: 24);
    }

    [Fact]
    public void APathOfAnotherShapeIsRefusedWithBothShapesNamed()
    {
        using var dir = new TempDir();
        string file = dir.File("model.bin");
        TestModel.Random(Config<WideShape>(), seed: 1).WriteLlama2c(file);
        using var model = LlamaModel.Load(file);
        // Same layer count as the wide shape, so the mask fits and only the shape differs.
        var path = NarrowPaths.Odd.Instance;
        var config = Config<NarrowShape>();
        Assert.Equal(config.NLayers, model.Config.NLayers);
        var error = Assert.Throws<FiRSTException>(() => model.CreateSession(new SessionOptions { Path = path }));
        Assert.Contains("Odd was generated for a model of dim 48", error.Message);
        Assert.Contains("this model has dim 96", error.Message);
    }

    [Fact]
    public void APinnedSessionDecodesOnTheCompiledDecoder()
    {
        using var model = LlamaModel.Load(Path.Combine(AppContext.BaseDirectory, "demo", "model.bin"));
        var path = DemoPaths["copy"];
        using var pinned = model.CreateSession(new SessionOptions { Path = path });
        using var generic = model.CreateSession(new SessionOptions { Mask = path.Mask });
        pinned.Prefill([1, 2, 3]);
        pinned.Forward(4);
        generic.Prefill([1, 2, 3]);
        generic.Forward(4);
        Assert.True(pinned.DecodesCompiled);
        Assert.False(generic.DecodesCompiled);
    }

    private static void AssertMatchesGeneric(LlamaModel model, IDecodePath path, int threads, int[] prompt, int steps)
    {
        using var compiled = model.CreateSession(new SessionOptions { Path = path, Threads = threads });
        using var generic = model.CreateSession(new SessionOptions { Mask = path.Mask, Threads = threads });
        float[] a = compiled.Prefill(prompt).ToArray();
        float[] b = generic.Prefill(prompt).ToArray();
        for (int step = 0; step < steps && compiled.Remaining > 0; step++)
        {
            int token = Kernels.Ops.ArgMax(b);
            a = compiled.Forward(token).ToArray();
            b = generic.Forward(token).ToArray();
            double rms = Math.Sqrt(b.Sum(v => (double)v * v) / b.Length);
            double worst = a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
            Assert.True(worst <= Tolerance * rms,
                $"{path.GetType().Name} ({path.Mask}), {threads} threads, step {step}: max |compiled - generic| = {worst:G3}, {worst / rms:G3} of the logits' RMS");
        }
        Assert.True(compiled.DecodesCompiled, "the session decoded on the generic loop, not the compiled decoder");
    }

    private static ModelConfig Config<TShape>() where TShape : struct, IModelShape => new()
    {
        Dim = TShape.Dim,
        HiddenDim = TShape.HiddenDim,
        NLayers = TShape.NLayers,
        NHeads = TShape.NHeads,
        NKvHeads = TShape.NKvHeads,
        VocabSize = TShape.VocabSize,
        MaxSeqLen = TShape.MaxSeqLen,
        SharedClassifier = false,
    };

    /// <summary>Heads of 8, grouped-query attention (6 query heads on 2 key/value heads), a hidden width that is not a multiple of 16.</summary>
    private readonly struct NarrowShape : IModelShape
    {
        public static int Dim => 48;
        public static int HiddenDim => 100;
        public static int NLayers => 3;
        public static int NHeads => 6;
        public static int NKvHeads => 2;
        public static int VocabSize => 77;
        public static int MaxSeqLen => 40;
    }

    private static class NarrowPaths
    {
        public sealed class Odd : CompiledPath<NarrowShape>
        {
            private Odd() : base([0, 2]) { }
            public static Odd Instance { get; } = new();
        }

        public sealed class All : CompiledPath<NarrowShape>
        {
            private All() : base([0, 1, 2]) { }
            public static All Instance { get; } = new();
        }
    }

    /// <summary>Three heads of 32 (more threads than some splits have rows), a vocabulary that is not a multiple of 16.</summary>
    private readonly struct WideShape : IModelShape
    {
        public static int Dim => 96;
        public static int HiddenDim => 256;
        public static int NLayers => 3;
        public static int NHeads => 3;
        public static int NKvHeads => 3;
        public static int VocabSize => 300;
        public static int MaxSeqLen => 40;
    }

    private static class WidePaths
    {
        public sealed class Skip2 : CompiledPath<WideShape>
        {
            private Skip2() : base([0, 1]) { }
            public static Skip2 Instance { get; } = new();
        }
    }
}
