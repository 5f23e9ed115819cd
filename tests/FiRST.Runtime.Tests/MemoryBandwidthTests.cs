using System.Runtime.Intrinsics;
using FiRST.Runtime.Diagnostics;
using Xunit;

namespace FiRST.Runtime.Tests;

public class MemoryBandwidthTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ProbeMeasuresEveryPatternOverTheWholeBuffer(int threads)
    {
        // A small buffer and one repeat: rates are the benchmark's business; here every pattern runs over the
        // whole buffer without reading outside it (an odd size is rounded to whole lines of every stream).
        var patterns = MemoryBandwidth.Probe(threads, bytes: (3L << 20) + 100, repeats: 1);
        int widths = Vector512.IsHardwareAccelerated ? 2 : 1;
        Assert.Equal(4 * widths, patterns.Count);
        Assert.Equal([1, 2, 4, 8], patterns.Select(p => p.Streams).Distinct().Order());
        foreach (var p in patterns)
            Assert.True(double.IsFinite(p.BytesPerSecond) && p.BytesPerSecond > 0, $"{p}: {p.BytesPerSecond}");
        Assert.Equal("4 streams per thread, 256-bit loads", patterns.First(p => p.Streams == 4 && p.VectorBits == 256).ToString());
        Assert.Equal("1 stream per thread, 256-bit loads", patterns.First(p => p.Streams == 1 && p.VectorBits == 256).ToString());
    }

    [Fact]
    public void TheCeilingIsTheFasterOfProbeAndDecode()
    {
        Assert.Equal(48e9, MemoryBandwidth.Ceiling(31e9, 48e9));
        Assert.Equal(31e9, MemoryBandwidth.Ceiling(31e9, 12e9));
    }
}
