using ScottPlot;

namespace FiRST.Cli.Charts;

/// <summary>A bar chart with one group of bars per task and one bar (and colour) per series within each.</summary>
internal static class GroupedBars
{
    /// <summary>One bar: its group on the x axis, its series in the legend, its height.</summary>
    public readonly record struct Value(string Group, string Series, double Height);

    /// <summary>The chart of <paramref name="values"/>, groups and series in their first-seen order; each bar labelled with <paramref name="label"/>.</summary>
    public static Plot Create(string title, string yLabel, IReadOnlyList<Value> values, Func<double, string> label)
    {
        var groups = values.Select(v => v.Group).Distinct().ToList();
        var series = values.Select(v => v.Series).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var plot = new Plot();
        var bars = values.Select(v => new Bar
        {
            // Groups sit one series-count plus a gap apart.
            Position = groups.IndexOf(v.Group) * (series.Count + 1) + series.IndexOf(v.Series),
            Value = v.Height,
            FillColor = palette.GetColor(series.IndexOf(v.Series)),
            Label = label(v.Height),
        }).ToList();
        var plottable = plot.Add.Bars(bars);
        plottable.ValueLabelStyle.FontSize = 11;
        for (int s = 0; s < series.Count; s++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s], FillColor = palette.GetColor(s) });
        plot.ShowLegend(Edge.Right);
        plot.Axes.Bottom.SetTicks(groups.Select((_, g) => g * (series.Count + 1) + (series.Count - 1) / 2.0).ToArray(), groups.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.Grid.XAxisStyle.MajorLineStyle.Width = 0;
        plot.Title(title);
        plot.YLabel(yLabel);
        return plot;
    }
}
