namespace FiRST.Runtime.Decoding;

/// <summary>How a routed session picks its decode path once the routers have chosen the layers.</summary>
public enum PathPolicy
{
    /// <summary>
    /// The compiled path of exactly the routed mask; otherwise the compiled path that keeps every routed layer
    /// with the fewest layers (its extra layers are prefilled too: quality-safe); otherwise the dynamic path.
    /// </summary>
    Superset,

    /// <summary>The compiled path of exactly the routed mask; otherwise the dynamic path.</summary>
    Exact,

    /// <summary>Always the dynamic path: the generic loop over the routed mask, with early exit when configured.</summary>
    Dynamic,
}

/// <summary>Why a session decodes on its path (see <see cref="InferenceSession.PathReason"/>).</summary>
public enum PathReason
{
    /// <summary>The session was pinned to the path (<see cref="SessionOptions.Path"/> or <see cref="SessionOptions.Task"/>).</summary>
    Pinned,

    /// <summary>A compiled path exists for exactly the session's mask.</summary>
    Exact,

    /// <summary>No compiled path for the routed mask; this one keeps every routed layer and a few more.</summary>
    Superset,

    /// <summary>No compiled path fits (or the policy asked for none): the generic loop, with early exit when configured.</summary>
    Dynamic,
}
