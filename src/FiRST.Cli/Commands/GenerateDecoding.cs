using System.Globalization;
using FiRST.Runtime.Decoding;
using FiRST.Runtime.Generation;

namespace FiRST.Cli.Commands;

/// <summary>
/// How <c>first generate</c> decodes beyond the layer mask: a self-speculation plan (or the path's calibrated
/// one), an early-exit threshold, the path policy; and how its statistics line reports what ran.
/// </summary>
internal sealed record GenerateDecoding(SpeculationOptions? Speculation, bool AsCalibrated, float? EarlyExit, PathPolicy Policy)
{
    /// <summary>Checks the options together: speculation and early exit exclude each other, early exit needs the dynamic path.</summary>
    public static GenerateDecoding From(string? speculate, float? earlyExit, string? policy)
    {
        if (speculate is not null && earlyExit is not null)
            throw new ArgumentException("give --speculate or --early-exit, not both: speculation verifies every token on all the path's layers, so nothing exits early");
        var pathPolicy = DecodingOptions.ParsePolicy(policy);
        if (earlyExit is { } threshold)
        {
            DecodingOptions.EnsureThreshold(threshold);
            if (policy is not null && pathPolicy != PathPolicy.Dynamic)
                throw new ArgumentException($"--early-exit runs on the dynamic path only; drop --policy {policy} or give --policy dynamic");
            return new GenerateDecoding(null, false, threshold, PathPolicy.Dynamic);
        }
        bool auto = string.Equals(speculate, "auto", StringComparison.OrdinalIgnoreCase);
        var plan = speculate is null || auto ? null : DecodingOptions.ParseSpeculation(speculate);
        return new GenerateDecoding(plan, auto, null, pathPolicy);
    }

    /// <summary>What the statistics line adds for speculation and early exit (empty when neither was asked for).</summary>
    public string Describe(GenerationStats s)
    {
        string text = "";
        if (s.Speculation is { } plan)
            text += $" | speculate: {plan}, {Percent(s.AcceptanceRate)} accepted";
        else if (Speculation is { } asked)
            text += $" | speculate: off ({asked} needs more than {asked.DraftLayers} kept layers; the routed mask keeps {s.Mask.Count(c => c == '1')})";
        else if (AsCalibrated)
            text += " | speculate: off (the path has no calibrated plan)";
        if (EarlyExit is not null)
        {
            // Tokens that went through the layers one at a time: every decode step, and a one-token prompt.
            int stepped = s.DecodeSteps + (s.PromptTokens == 1 && s.Routing is null ? 1 : 0);
            double share = stepped == 0 ? 0 : Math.Min(1, (double)s.EarlyExits / stepped);
            text += $" | early exit: {Percent(share)} of tokens, mean depth {s.MeanExitDepth.ToString("F1", CultureInfo.InvariantCulture)} layers";
        }
        return text;
    }

    private static string Percent(double share) => (share * 100).ToString("F0", CultureInfo.InvariantCulture) + "%";
}
