using ScottPlot;

namespace FiRST.Cli.Charts;

/// <summary>Saves a ScottPlot chart as PNG or SVG, and says in one line when drawing cannot run here.</summary>
internal static class ChartFile
{
    /// <summary>Writes the chart <paramref name="draw"/> makes to <paramref name="path"/> (PNG or SVG by its extension); returns the path.</summary>
    /// <remarks>The chart is made here, inside the guard: ScottPlot loads the native library as soon as a plot exists.</remarks>
    public static string Save(Func<Plot> draw, string path, int width, int height)
    {
        try
        {
            var plot = draw();
            if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) plot.SaveSvg(path, width, height);
            else plot.SavePng(path, width, height);
            return path;
        }
        // The tool package carries SkiaSharp's native library for linux-x64 only (the package stays under 20 MB):
        // elsewhere drawing fails to load it. The SVGs written before still stand.
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            throw new IOException($"{path}: charts drawn with ScottPlot need SkiaSharp's native library, which could not be loaded here (first ships it for linux-x64 only)", e);
        }
    }
}
