using System.Globalization;

namespace FiRST.Runtime.Decoding;

/// <summary>
/// LayerSkip self-speculative decoding: the first <see cref="DraftLayers"/> layers a session runs, with the
/// shared final norm and classifier, draft <see cref="Lookahead"/> tokens; the remaining layers verify them in
/// one batched pass that reuses the draft's KV and hidden states. The longest prefix the full path agrees with
/// is kept, plus the full path's next token, so greedy output is the path's own greedy output (and sampled
/// output follows its distribution, by speculative rejection sampling).
/// </summary>
/// <remarks>
/// On a task path the draft runs the first <see cref="DraftLayers"/> of the task's kept layers and the verify
/// pass the rest of them. Calibration (<c>first calibrate</c>) searches both numbers per task and stores them
/// in the profile, which the generator turns into the task path's draft and verify halves.
/// </remarks>
public sealed record SpeculationOptions
{
    /// <summary>Most tokens drafted per round: the verify pass is one batch of at most this many plus one.</summary>
    /// <remarks>The profile schema's limit (<c>speculation.lookahead</c>), defined once for both profile readers.</remarks>
    public const int MaxLookahead = FiRST.Schema.ProfileSchema.MaxLookahead;

    /// <summary>Creates a plan of <paramref name="draftLayers"/> draft layers and <paramref name="lookahead"/> drafted tokens per round.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="draftLayers"/> is below 1, or <paramref name="lookahead"/> is outside [1, <see cref="MaxLookahead"/>].</exception>
    public SpeculationOptions(int draftLayers, int lookahead)
    {
        if (draftLayers < 1)
            throw new ArgumentOutOfRangeException(nameof(draftLayers), draftLayers, "the draft must run at least 1 layer");
        if (lookahead < 1 || lookahead > MaxLookahead)
            throw new ArgumentOutOfRangeException(nameof(lookahead), lookahead, $"the lookahead k must be from 1 to {MaxLookahead} tokens");
        DraftLayers = draftLayers;
        Lookahead = lookahead;
    }

    /// <summary>How many of the session's kept layers (the first ones, in order) the draft runs: LayerSkip's exit <c>E</c>.</summary>
    public int DraftLayers { get; }

    /// <summary>Tokens drafted per round: LayerSkip's <c>k</c>.</summary>
    public int Lookahead { get; }

    /// <summary>Throws unless the draft leaves at least one of <paramref name="keptLayers"/> layers to verify with.</summary>
    /// <exception cref="ArgumentException">The draft runs every kept layer or more.</exception>
    public void EnsureFits(int keptLayers)
    {
        if (DraftLayers >= keptLayers)
            throw new ArgumentException(
                $"speculation drafts with {DraftLayers} layers but the path keeps {keptLayers}: E must be below the number of kept layers, so that some layers verify");
    }

    /// <summary>Parses <c>E:k</c> (as <c>first generate --speculate</c> takes it).</summary>
    /// <exception cref="FormatException">The text is not two integers separated by a colon.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A number is out of range (see the constructor).</exception>
    public static SpeculationOptions Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':');
        if (colon < 0
            || !int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out int e)
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int k))
            throw new FormatException($"'{text}' is not E:k (draft layers and lookahead, for example 3:4)");
        return new SpeculationOptions(e, k);
    }

    /// <summary><c>E:k</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{DraftLayers}:{Lookahead}");
}
