using FiRST.Runtime.Kernels;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>The vectorised element-wise kernels against plain scalar math.</summary>
public sealed class OpsTests
{
    [Fact]
    public void VectorisedExpIsWithinTwoUlpsOfTheLibraryExp()
    {
        // Softmax inputs: x - max, so in (-inf, 0]; also the tail that falls back to the scalar path.
        var x = Enumerable.Range(0, 1003).Select(i => -i * 0.0871f).ToArray();
        var expected = x.Select(v => Math.Exp(v)).ToArray();
        float sum = Ops.ExpShifted(x, 0f);
        for (int i = 0; i < x.Length; i++)
        {
            double tolerance = Math.Max(expected[i] * 2.5e-7, 1e-37);
            Assert.True(Math.Abs(x[i] - expected[i]) <= tolerance, $"exp at {i}: {x[i]} vs {expected[i]}");
        }
        Assert.Equal(expected.Sum(), sum, 5);
    }

    [Fact]
    public void SoftmaxSumsToOneAndKeepsOrder()
    {
        float[] x = [1f, 3f, -2f, 3f, 0.5f, 10f, -40f, 2f, 7f, 7.5f, -1f];
        float[] copy = (float[])x.Clone();
        Ops.Softmax(x);
        Assert.Equal(1.0, x.Sum(), 5);
        double denominator = copy.Sum(v => Math.Exp(v - 10));
        for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Exp(copy[i] - 10) / denominator, x[i], 6);
    }

    [Fact]
    public void SwiGluMatchesSiluTimesUp()
    {
        var rng = new Random(4);
        var gate = Enumerable.Range(0, 37).Select(_ => (float)(rng.NextDouble() * 40 - 20)).ToArray();
        gate[0] = 100f; gate[1] = -100f; // clamped exponent range
        var up = Enumerable.Range(0, 37).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expected = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
        Ops.SwiGlu(gate, up);
        for (int i = 0; i < gate.Length; i++)
            Assert.True(Math.Abs(gate[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"{i}: {gate[i]} vs {expected[i]}");
    }
}
