using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FiRST.Benchmarks;

/// <summary>
/// A summary column with the weight bytes read per operation divided by the mean time: the achieved
/// bandwidth. Decode and large matrix-vector products are bound by memory reads, so this number set
/// against the machine's bandwidth (<c>first bench</c> probes it) says how close to the ceiling a kernel is.
/// </summary>
internal sealed class BandwidthColumn(Func<BenchmarkCase, long?> bytesPerOperation) : IColumn
{
    public string Id => nameof(BandwidthColumn);
    public string ColumnName => "Weights GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Weight bytes read per operation / mean time per operation (GB/s)";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        long? bytes = bytesPerOperation(benchmarkCase);
        if (meanNs is not > 0 || bytes is null) return "?";
        return (bytes.Value / meanNs.Value).ToString("F2", style.CultureInfo); // bytes per ns = GB/s
    }

    public override string ToString() => ColumnName;
}
