using System.CommandLine;
using System.Globalization;
using FiRST.Runtime;
using FiRST.Runtime.Decoding;

namespace FiRST.Cli.Commands;

/// <summary>
/// The decoding options <c>generate</c>, <c>bench</c> and <c>eval</c> share (--speculate, --early-exit,
/// --policy), and their parsing: each bad value becomes one <see cref="ArgumentException"/> naming the option,
/// which <see cref="CliErrors"/> prints as one line.
/// </summary>
internal static class DecodingOptions
{
    public static Option<string?> Speculate(string description) => new("--speculate") { Description = description };

    public static Option<float?> EarlyExit(string description) => new("--early-exit") { Description = description };

    // Checked by ParsePolicy rather than AcceptOnlyFromAmong, whose message takes several lines.
    public static Option<string?> Policy() => new("--policy")
    {
        Description = "How a routed prompt picks its path: 'superset' (the exact compiled path, else the smallest compiled path keeping every routed layer, else the generic loop), 'exact', or 'dynamic' (always the generic loop; a task's mask runs on it too) (default: superset; dynamic with --early-exit)",
    };

    /// <summary>The plan <c>E:k</c> of <c>--speculate</c>.</summary>
    public static SpeculationOptions ParseSpeculation(string text)
    {
        try
        {
            return SpeculationOptions.Parse(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--speculate: {e.Message}");
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"--speculate {text}: {CliErrors.Message(e)}");
        }
    }

    /// <summary>Throws unless <paramref name="plan"/> leaves layers to verify with among <paramref name="keptLayers"/>.</summary>
    public static void EnsureFits(SpeculationOptions plan, int keptLayers, string what)
    {
        if (plan.DraftLayers >= keptLayers)
            throw new ArgumentException(
                $"--speculate {plan}: the draft runs {plan.DraftLayers} layers but {what} keeps {keptLayers}; E must be below that, so that some layers verify");
    }

    /// <summary>The threshold of <c>--early-exit</c>, checked: a top probability in (0, 1].</summary>
    public static float EnsureThreshold(float threshold) =>
        threshold is > 0f and <= 1f
            ? threshold
            : throw new ArgumentException($"--early-exit must be a probability in (0, 1], got {threshold.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>A uniform early exit after every layer but the last of a model of <paramref name="layers"/> layers.</summary>
    public static EarlyExitOptions UniformExit(int layers, float threshold)
    {
        if (layers < 2) throw new ArgumentException($"--early-exit needs a model of 2 layers at least; this one has {layers}");
        return EarlyExitOptions.Uniform(layers, EnsureThreshold(threshold));
    }

    public static PathPolicy ParsePolicy(string? value) => value switch
    {
        null or "superset" => PathPolicy.Superset,
        "exact" => PathPolicy.Exact,
        "dynamic" => PathPolicy.Dynamic,
        _ => throw new ArgumentException($"--policy must be superset, exact or dynamic, got '{value}'"),
    };

    /// <summary>How statistics name a path and why it runs: <c>CopyPath (exact)</c>.</summary>
    public static string PathWithReason(string path, PathReason reason) => $"{path} ({reason.ToString().ToLowerInvariant()})";
}
