using System.Globalization;
using System.Net;
using System.Text;
using FiRST.Runtime.Profiles;

namespace FiRST.Evaluation.Calibration;

/// <summary>
/// The calibration pass's pictures as self-contained SVG files (no native drawing library needed): a heatmap
/// of the mean router output p_l per task and layer, and bars of decode latency per task, full vs masked.
/// </summary>
public static class CalibrationPlots
{
    /// <summary>Writes <c>router-heatmap.svg</c> and <c>latency.svg</c> into <paramref name="dir"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(ModelProfile profile, string dir)
    {
        Directory.CreateDirectory(dir);
        string heat = Path.Combine(dir, "router-heatmap.svg"), bars = Path.Combine(dir, "latency.svg");
        File.WriteAllText(heat, Heatmap(profile));
        File.WriteAllText(bars, Latency(profile));
        return [heat, bars];
    }

    /// <summary>Rows are tasks, columns layers; the cell shade is p_l, a cross marks a skipped layer.</summary>
    public static string Heatmap(ModelProfile profile)
    {
        int layers = profile.Model.NLayers, cell = 44, left = 90, top = 50;
        int width = left + layers * cell + 110, height = top + profile.Tasks.Count * cell + 40;
        var svg = Begin(width, height, "Mean router output p_l per task and layer (x = skipped in the task's mask)");
        for (int l = 0; l < layers; l++)
            Text(svg, left + l * cell + cell / 2, top - 8, $"L{l}", "middle");
        for (int t = 0; t < profile.Tasks.Count; t++)
        {
            var task = profile.Tasks[t];
            int y = top + t * cell;
            Text(svg, left - 8, y + cell / 2 + 5, task.Name, "end");
            for (int l = 0; l < layers; l++)
            {
                double p = task.MeanP is { Count: > 0 } m && l < m.Count ? m[l] : double.NaN;
                int x = left + l * cell;
                svg.Append(Inv($"<rect x=\"{x}\" y=\"{y}\" width=\"{cell - 2}\" height=\"{cell - 2}\" fill=\"{Shade(p)}\"/>"));
                Text(svg, x + cell / 2 - 1, y + cell / 2 + 4, double.IsNaN(p) ? "-" : p.ToString("F2", CultureInfo.InvariantCulture), "middle", p > 0.55 ? "#fff" : "#000", 11);
                if (!task.KeptLayers.Contains(l))
                    svg.Append(Inv($"<path d=\"M{x + 3} {y + 3} L{x + cell - 5} {y + cell - 5} M{x + cell - 5} {y + 3} L{x + 3} {y + cell - 5}\" stroke=\"#c00\" stroke-width=\"1.5\" opacity=\"0.6\"/>"));
            }
        }
        // Legend: the colour scale from 0 to 1.
        int lx = left + layers * cell + 20;
        for (int i = 0; i <= 10; i++)
            svg.Append(Inv($"<rect x=\"{lx}\" y=\"{top + (10 - i) * 12}\" width=\"20\" height=\"12\" fill=\"{Shade(i / 10.0)}\"/>"));
        Text(svg, lx + 26, top + 10, "p = 1", "start");
        Text(svg, lx + 26, top + 130, "p = 0", "start");
        return End(svg);
    }

    /// <summary>Two bars per task: decode ms/token of the full model and of the task's mask, with the speedup.</summary>
    public static string Latency(ModelProfile profile)
    {
        var tasks = profile.Tasks.Where(t => t.MsPerTokenFull is not null && t.MsPerTokenMasked is not null).ToList();
        int group = 90, left = 70, top = 50, plotHeight = 220;
        int width = left + Math.Max(1, tasks.Count) * group + 160, height = top + plotHeight + 60;
        double max = tasks.Count == 0 ? 1 : tasks.Max(t => Math.Max(t.MsPerTokenFull!.Value, t.MsPerTokenMasked!.Value)) * 1.15;
        var svg = Begin(width, height, "Decode latency per token: full model vs the task's mask");
        svg.Append(Inv($"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{left + tasks.Count * group}\" y2=\"{top + plotHeight}\" stroke=\"#000\"/>"));
        svg.Append(Inv($"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotHeight}\" stroke=\"#000\"/>"));
        for (int i = 0; i <= 4; i++)
        {
            double v = max * i / 4;
            int y = top + plotHeight - (int)(plotHeight * i / 4.0);
            Text(svg, left - 6, y + 4, (v * 1000).ToString("F0", CultureInfo.InvariantCulture) + " µs", "end", "#000", 11);
        }
        for (int t = 0; t < tasks.Count; t++)
        {
            var task = tasks[t];
            int x = left + t * group + 12;
            Bar(svg, x, top, plotHeight, task.MsPerTokenFull!.Value / max, "#888");
            Bar(svg, x + 32, top, plotHeight, task.MsPerTokenMasked!.Value / max, "#2a7");
            Text(svg, x + 31, top + plotHeight + 18, task.Name, "middle");
            Text(svg, x + 31, top + plotHeight + 34, $"{task.Speedup:F2}x", "middle", "#2a7", 11);
        }
        int lx = left + tasks.Count * group + 20;
        svg.Append(Inv($"<rect x=\"{lx}\" y=\"{top}\" width=\"14\" height=\"14\" fill=\"#888\"/>"));
        Text(svg, lx + 20, top + 12, "full model", "start");
        svg.Append(Inv($"<rect x=\"{lx}\" y=\"{top + 22}\" width=\"14\" height=\"14\" fill=\"#2a7\"/>"));
        Text(svg, lx + 20, top + 34, "task mask", "start");
        return End(svg);
    }

    private static void Bar(StringBuilder svg, int x, int top, int plotHeight, double share, string colour)
    {
        int h = (int)Math.Round(plotHeight * Math.Clamp(share, 0, 1));
        svg.Append(Inv($"<rect x=\"{x}\" y=\"{top + plotHeight - h}\" width=\"30\" height=\"{h}\" fill=\"{colour}\"/>"));
    }

    // White (p = 0) to dark blue (p = 1); grey when unknown.
    private static string Shade(double p)
    {
        if (double.IsNaN(p)) return "#ddd";
        p = Math.Clamp(p, 0, 1);
        int r = (int)(255 - p * (255 - 20)), g = (int)(255 - p * (255 - 60)), b = (int)(255 - p * (255 - 140));
        return $"#{r:x2}{g:x2}{b:x2}";
    }

    private static StringBuilder Begin(int width, int height, string title)
    {
        var svg = new StringBuilder();
        svg.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">\n"));
        svg.Append(Inv($"<rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>\n"));
        Text(svg, 10, 22, title, "start", "#000", 15);
        return svg;
    }

    private static string End(StringBuilder svg) => svg.Append("</svg>\n").ToString();

    private static void Text(StringBuilder svg, int x, int y, string text, string anchor, string colour = "#000", int size = 13) =>
        svg.Append(Inv($"<text x=\"{x}\" y=\"{y}\" text-anchor=\"{anchor}\" fill=\"{colour}\" font-size=\"{size}\">{WebUtility.HtmlEncode(text)}</text>\n"));

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
