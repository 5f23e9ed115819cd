using FiRST.Runtime.Loading;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// A BF16 checkpoint runs as bfloat16 (read in place, widened in registers) and gives the logits of the same
/// weights widened to float32 at load: the same values and float32 sums, so only the order of summation may
/// differ. Prefill (the batched matrix product) and decode, at 1 and 2 threads.
/// </summary>
public sealed class BFloat16Tests
{
    private const double Tolerance = 1e-4;

    // Heads of 8 on 2 key/value heads; 75 hidden and 37 vocabulary rows leave remainders in every kernel.
    private static readonly ModelConfig Shape = new() { Dim = 48, HiddenDim = 75, NLayers = 2, NHeads = 6, NKvHeads = 2, VocabSize = 37, MaxSeqLen = 40, NormEps = 1e-5f };

    private static string WriteBFloat16(TempDir dir, ModelConfig config, int seed = 3)
    {
        string path = dir.File("hf");
        TestModel.Random(config, seed, round: TestModel.ToBFloat16).WriteSafetensors(path, "BF16");
        return path;
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(1, false)]
    [InlineData(2, false)]
    public void LogitsEqualTheFloat32Widening(int threads, bool shared)
    {
        using var dir = new TempDir();
        string path = WriteBFloat16(dir, Shape with { SharedClassifier = shared });
        using var bf16 = LlamaModel.Load(path);
        using var f32 = LlamaModel.Load(path, new ModelLoadOptions { Format = WeightFormat.F32 });
        Assert.Equal("bf16", bf16.Weights.FormatName);
        Assert.Equal("f32", f32.Weights.FormatName);
        Assert.True(bf16.Weights.Layers[0]!.Wq.IsBFloat16 && bf16.Weights.TokenEmbedding.IsBFloat16);
        // Norm gains are widened either way: every path reads them as float32.
        Assert.False(bf16.Weights.RmsFinal.IsBFloat16);

        using var a = bf16.CreateSession(new SessionOptions { Threads = threads });
        using var b = f32.CreateSession(new SessionOptions { Threads = threads });
        int[] prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
        AssertClose(a.Prefill(prompt).ToArray(), b.Prefill(prompt).ToArray(), "prefill");
        var logits = b.Forward(7).ToArray();
        AssertClose(a.Forward(7).ToArray(), logits, "decode step 0");
        for (int step = 1; step < 20; step++)
        {
            int token = Kernels.Ops.ArgMax(logits);
            logits = b.Forward(token).ToArray();
            AssertClose(a.Forward(token).ToArray(), logits, $"decode step {step}");
        }
    }

    [Fact]
    public unsafe void BothReadersWidenSixteenBitValuesExactly()
    {
        // 37 values: two 16-wide vectors and a tail; specials, subnormals and both signs among random ones.
        var rng = new Random(7);
        ushort[] bits = [0x3F80, 0xBF80, 0x0000, 0x8000, 0x7F80, 0xFF80, 0x0001, .. Enumerable.Range(0, 30).Select(_ => (ushort)rng.Next(0x10000))];
        var bf16 = new float[bits.Length];
        var f16 = new float[bits.Length];
        fixed (ushort* b = bits)
        fixed (float* w = bf16, h = f16)
        {
            Widening.BF16((byte*)b, w, bits.Length);
            Widening.F16((byte*)b, h, bits.Length);
        }
        for (int i = 0; i < bits.Length; i++)
        {
            // bfloat16 is a float32's top half; IEEE half as .NET converts it. NaN bit patterns stay NaN.
            Assert.Equal(BitConverter.UInt32BitsToSingle((uint)bits[i] << 16), bf16[i]);
            Assert.Equal((float)BitConverter.UInt16BitsToHalf(bits[i]), f16[i]);
        }
        Assert.Equal(1f, bf16[0]);
        Assert.Equal(float.NegativeInfinity, bf16[5]);
        Assert.Equal(1.875f, f16[0]);
    }

    [Fact]
    public void MatricesTakeHalfTheBytesOfFloat32()
    {
        using var dir = new TempDir();
        string path = WriteBFloat16(dir, Shape with { SharedClassifier = false });
        using var bf16 = LlamaModel.Load(path);
        using var f32 = LlamaModel.Load(path, new ModelLoadOptions { Format = WeightFormat.F32 });
        Assert.Equal(MatrixBytes(f32.Weights), 2 * MatrixBytes(bf16.Weights));
        long parameters = MatrixBytes(f32.Weights) / sizeof(float);
        Assert.Equal(parameters * 2, MatrixBytes(bf16.Weights));
    }

    [Fact]
    public void QuantizingBFloat16GivesTheInt8OfTheSameFloat32Weights()
    {
        using var dir = new TempDir();
        var config = Shape with { HiddenDim = 64 };
        var model = TestModel.Random(config, 3, round: TestModel.ToBFloat16);
        string bf16Path = dir.File("bf16"), f32Path = dir.File("f32");
        model.WriteSafetensors(bf16Path, "BF16");
        model.WriteSafetensors(f32Path, "F32");
        using var fromBf16 = LlamaModel.Load(bf16Path, new ModelLoadOptions { Format = WeightFormat.Q8 });
        using var fromF32 = LlamaModel.Load(f32Path, new ModelLoadOptions { Format = WeightFormat.Q8 });
        Assert.Equal("q8", fromBf16.Weights.FormatName);
        using var a = fromBf16.CreateSession(new SessionOptions { Threads = 1 });
        using var b = fromF32.CreateSession(new SessionOptions { Threads = 1 });
        int[] prompt = [3, 1, 4, 1, 5];
        Assert.Equal(b.Prefill(prompt).ToArray(), a.Prefill(prompt).ToArray());
        Assert.Equal(b.Forward(9).ToArray(), a.Forward(9).ToArray());
    }

    [Fact]
    public void ANonFiniteBFloat16WeightIsNamed()
    {
        using var dir = new TempDir();
        var model = TestModel.Random(Shape, 3, round: TestModel.ToBFloat16);
        model.W2[1][17] = float.PositiveInfinity;
        string path = dir.File("hf");
        model.WriteSafetensors(path, "BF16");
        var error = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(path));
        Assert.Contains("model.layers.1.mlp.down_proj.weight", error.Message);
        Assert.Contains("element 17", error.Message);
    }

    private static long MatrixBytes(ModelWeights w)
    {
        long bytes = w.TokenEmbedding.Bytes + (w.Classifier.SameMemory(w.TokenEmbedding) ? 0 : w.Classifier.Bytes);
        foreach (var l in w.Layers)
            bytes += l!.Wq.Bytes + l.Wk.Bytes + l.Wv.Bytes + l.Wo.Bytes + l.W1.Bytes + l.W2.Bytes + l.W3.Bytes;
        return bytes;
    }

    private static void AssertClose(float[] actual, float[] expected, string what)
    {
        double rms = Math.Sqrt(expected.Sum(v => (double)v * v) / expected.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs((double)actual[i] - expected[i]) <= Tolerance * Math.Max(rms, Math.Abs(expected[i])),
                $"{what}, logit {i}: bf16 {actual[i]} vs float32 {expected[i]} (logits' RMS {rms:G3})");
    }
}
