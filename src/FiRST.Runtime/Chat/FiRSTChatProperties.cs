namespace FiRST.Runtime.Chat;

/// <summary>
/// Keys of the run's details in <c>ChatResponse.AdditionalProperties</c> (and the last streamed update's):
/// which layers and decode path served the answer, and how fast.
/// </summary>
public static class FiRSTChatProperties
{
    /// <summary>The decode path that ran (string): a generated task path's class name, or <c>generic</c>.</summary>
    public const string DecodePath = "first.decode_path";

    /// <summary>Why that path (string): <c>Pinned</c>, <c>Exact</c>, <c>Superset</c> or <c>Dynamic</c>.</summary>
    public const string PathReason = "first.path_reason";

    /// <summary>What the routers decided at prefill (string: the mask and every layer's probability), or null without routers.</summary>
    public const string Routing = "first.routing";

    /// <summary>The layers that ran (string), one character per layer: <c>1</c> kept, <c>0</c> skipped.</summary>
    public const string Mask = "first.mask";

    /// <summary>Mean milliseconds per decoded token (double).</summary>
    public const string MsPerToken = "first.ms_per_token";

    /// <summary>The self-speculation plan (string, <c>draft layers:lookahead</c>), or null when the run did not speculate.</summary>
    public const string Speculation = "first.speculation";

    /// <summary>Share of drafted tokens kept (double; 0 without speculation).</summary>
    public const string AcceptanceRate = "first.acceptance_rate";

    /// <summary>Mean number of layers a token ran through, fewer than the mask's with early exit (double).</summary>
    public const string MeanExitDepth = "first.mean_exit_depth";
}
