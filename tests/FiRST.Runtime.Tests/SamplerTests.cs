using FiRST.Runtime.Sampling;
using Xunit;

namespace FiRST.Runtime.Tests;

public sealed class SamplerTests
{
    [Fact]
    public void GreedyPicksTheFirstMaximum()
    {
        var s = new Sampler(5, new SamplerOptions { Temperature = 0 });
        Assert.Equal(3, s.Sample([0.1f, 0.5f, -2f, 0.9f, 0.9f]));
    }

    [Fact]
    public void TopKNeverPicksOutsideTheKMostLikely()
    {
        float[] logits = [3f, 2.9f, 2.8f, 0f, 0f, 0f, 0f, 0f, 0f, 2.7f];
        var s = new Sampler(logits.Length, new SamplerOptions { Temperature = 5, TopK = 3, TopP = 1, Seed = 9 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++) seen.Add(s.Sample(logits));
        Assert.Equal(new HashSet<int> { 0, 1, 2 }, seen);
    }

    [Fact]
    public void TopPKeepsTheNucleusOnly()
    {
        // Probabilities 0.5, 0.3, 0.1, 0.1: top-p 0.7 keeps the first two (0.5 + 0.3 > 0.7).
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.1f), MathF.Log(0.1f)];
        var s = new Sampler(4, new SamplerOptions { Temperature = 1, TopP = 0.7f, Seed = 3 });
        var counts = new int[4];
        for (int i = 0; i < 4000; i++) counts[s.Sample(logits)]++;
        Assert.Equal(0, counts[2] + counts[3]);
        // Renormalised 5:3 split between the two kept tokens.
        Assert.InRange(counts[0] / 4000.0, 0.55, 0.70);
    }

    [Fact]
    public void TemperatureSamplingFollowsTheDistribution()
    {
        float[] logits = [0f, MathF.Log(3f)]; // 1:3
        var s = new Sampler(2, new SamplerOptions { Temperature = 1, TopP = 1, Seed = 5 });
        int ones = 0;
        for (int i = 0; i < 8000; i++) ones += s.Sample(logits);
        Assert.InRange(ones / 8000.0, 0.72, 0.78);
    }

    [Theory]
    [InlineData(-1f, 0.9f, 0)]
    [InlineData(float.NaN, 0.9f, 0)]
    [InlineData(1f, 1.5f, 0)]
    [InlineData(1f, 0.9f, -3)]
    public void InvalidOptionsAreRejected(float temperature, float topP, int topK)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(4, new SamplerOptions { Temperature = temperature, TopP = topP, TopK = topK }));
    }
}
