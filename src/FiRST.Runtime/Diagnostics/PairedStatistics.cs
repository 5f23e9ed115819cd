namespace FiRST.Runtime.Diagnostics;

/// <summary>Statistics of paired, interleaved rounds: medians and a distribution-free interval.</summary>
internal static class PairedStatistics
{
    public static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }

    /// <summary>
    /// The median and a 95% confidence interval for it from order statistics (ranks n/2 ∓ 1.96·√n/2): no
    /// assumption about the distribution, which on a shared machine has a long right tail.
    /// </summary>
    public static (double Median, double Low, double High) MedianWithInterval(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        int n = sorted.Length;
        int half = (int)Math.Ceiling(1.96 * Math.Sqrt(n) / 2);
        return (sorted[n / 2], sorted[Math.Max(0, n / 2 - half)], sorted[Math.Min(n - 1, n / 2 + half)]);
    }
}
