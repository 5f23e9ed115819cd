using System.Globalization;
using FiRST.Cli.Commands;
using ScottPlot;

namespace FiRST.Cli.Charts;

/// <summary>
/// <c>first bench --plots</c>: decode tokens/s by path, one group of bars per task, as PNG and SVG
/// (<c>tokens-per-second.png</c>, <c>.svg</c>). Each bench mode names its paths its own way.
/// </summary>
internal static class BenchChart
{
    /// <summary>Writes the chart of <paramref name="values"/> into <paramref name="dir"/>; returns the paths.</summary>
    public static IReadOnlyList<string> Write(string title, IReadOnlyList<GroupedBars.Value> values, string dir)
    {
        Directory.CreateDirectory(dir);
        Plot Draw() => GroupedBars.Create(title, "decode tokens/s", values, v => v.ToString("F0", CultureInfo.InvariantCulture));
        int groups = values.Select(v => v.Group).Distinct().Count(), series = values.Select(v => v.Series).Distinct().Count();
        int width = Math.Max(640, 360 + groups * (series + 1) * 42), height = 460;
        return
        [
            ChartFile.Save(Draw, Path.Combine(dir, "tokens-per-second.png"), width, height),
            ChartFile.Save(Draw, Path.Combine(dir, "tokens-per-second.svg"), width, height),
        ];
    }

    /// <summary><c>--paths</c>: the full model, the generic loop on the task's mask and the compiled task path.</summary>
    public static IReadOnlyList<GroupedBars.Value> Values(PathBenchResult r) =>
    [
        .. r.Paths.SelectMany(p => new GroupedBars.Value[]
        {
            new(p.Task, "full model (generic loop)", 1000 / p.FullMsPerToken),
            new(p.Task, "task mask (generic loop)", 1000 / p.GenericMsPerToken),
            new(p.Task, "compiled task path", 1000 / p.GeneratedMsPerToken),
        }),
    ];

    /// <summary><c>--dispatch</c>: every configuration of the table.</summary>
    public static IReadOnlyList<GroupedBars.Value> Values(DispatchBenchResult r) => [.. r.Rows.Select(w => new GroupedBars.Value(w.Task, w.Configuration, w.TokensPerSecond))];

    /// <summary><c>--speculate</c>: each path with and without speculation.</summary>
    public static IReadOnlyList<GroupedBars.Value> Values(SpeculationBenchResult r) => [.. r.Rows.Select(w => new GroupedBars.Value(w.Task, w.Configuration, w.TokensPerSecond))];

    /// <summary>Plain <c>bench</c>: one path, every layer on the generic loop.</summary>
    public static IReadOnlyList<GroupedBars.Value> Values(BenchResult r) =>
        [new(Path.GetFileName(r.Model), $"full model ({r.Weights}, {r.Threads} threads)", r.DecodeTokensPerSecond)];
}
