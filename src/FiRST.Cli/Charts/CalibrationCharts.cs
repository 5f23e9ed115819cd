using FiRST.Runtime.Profiles;
using ScottPlot;

namespace FiRST.Cli.Charts;

/// <summary>
/// The calibration pass's pictures as PNG (ScottPlot), beside the SVGs of <c>CalibrationPlots</c>: the mean
/// router output p_l per task and layer as a heatmap, and decode ms/token per path (full model, task mask) per
/// task. They live in the tool, not in FiRST.Evaluation, because drawing them loads SkiaSharp's native library,
/// which the libraries (and training, which builds on them) stay free of.
/// </summary>
internal static class CalibrationCharts
{
    /// <summary>Writes <c>router-heatmap.png</c> and <c>latency.png</c> into <paramref name="dir"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(ModelProfile profile, string dir)
    {
        Directory.CreateDirectory(dir);
        int layers = profile.Model.NLayers, tasks = profile.Tasks.Count;
        return
        [
            ChartFile.Save(() => Heatmap(profile), Path.Combine(dir, "router-heatmap.png"), 200 + 70 * layers, 150 + 70 * tasks),
            ChartFile.Save(() => Latency(profile), Path.Combine(dir, "latency.png"), 320 + 130 * tasks, 420),
        ];
    }

    /// <summary>Rows are tasks (first on top), columns layers; each cell shows p_l, and an x marks a layer the task's mask skips.</summary>
    public static Plot Heatmap(ModelProfile profile)
    {
        int layers = profile.Model.NLayers, tasks = profile.Tasks.Count;
        var p = new double[tasks, layers];
        for (int t = 0; t < tasks; t++)
            for (int l = 0; l < layers; l++)
                p[t, l] = profile.Tasks[t].MeanP is { Count: > 0 } m && l < m.Count ? m[l] : double.NaN;

        var plot = new Plot();
        var heat = plot.Add.Heatmap(p);
        heat.Colormap = new ScottPlot.Colormaps.Viridis(); // dark for a layer the router would skip, bright for one it keeps
        heat.ManualRange = new ScottPlot.Range(0, 1);
        // Cell (t, l) is centred at x = l and, rows drawn from the top, y = tasks - 1 - t.
        heat.Extent = new CoordinateRect(-0.5, layers - 0.5, -0.5, tasks - 0.5);
        for (int t = 0; t < tasks; t++)
            for (int l = 0; l < layers; l++)
            {
                double y = tasks - 1 - t;
                bool skipped = !profile.Tasks[t].KeptLayers.Contains(l);
                var text = plot.Add.Text(double.IsNaN(p[t, l]) ? "-" : p[t, l].ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + (skipped ? "\nskip" : ""), l, y);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 12;
                text.LabelFontColor = p[t, l] > 0.55 ? Colors.Black : Colors.White;
                text.LabelBold = skipped;
            }
        var bar = plot.Add.ColorBar(heat);
        bar.Label = "p_l (mean router output)";
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, layers).Select(l => (double)l).ToArray(), Enumerable.Range(0, layers).Select(l => $"L{l}").ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, tasks).Select(t => (double)(tasks - 1 - t)).ToArray(), profile.Tasks.Select(t => t.Name).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.SetLimits(-0.5, layers - 0.5, -0.5, tasks - 0.5);
        plot.Grid.IsVisible = false;
        plot.Title("Router output p_l per task and layer (skip = not in the task's mask)");
        plot.XLabel("layer");
        return plot;
    }

    /// <summary>Decode ms/token of the full model and of the task's mask, per task.</summary>
    public static Plot Latency(ModelProfile profile)
    {
        var values = new List<GroupedBars.Value>();
        foreach (var t in profile.Tasks.Where(t => t.MsPerTokenFull is not null && t.MsPerTokenMasked is not null))
        {
            values.Add(new(t.Name, "full model", t.MsPerTokenFull!.Value));
            values.Add(new(t.Name, "task mask", t.MsPerTokenMasked!.Value));
        }
        return GroupedBars.Create("Decode latency per token, by path", "ms/token", values, ms => ms.ToString("F3", System.Globalization.CultureInfo.InvariantCulture));
    }
}
