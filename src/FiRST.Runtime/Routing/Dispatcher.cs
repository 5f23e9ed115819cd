using FiRST.Runtime.Decoding;
using FiRST.Runtime.Inference;
using FiRST.Runtime.Paths;

namespace FiRST.Runtime.Routing;

/// <summary>
/// Routing at prefill and the choice of decode path, in one place. A session asks it once per prompt: the
/// routers' pooled probabilities decide which layers run (and so which layers get KV storage), and the path
/// table gives the compiled path for that mask; failing that (under <see cref="PathPolicy.Superset"/>) the
/// smallest compiled path that keeps every routed layer; failing that the dynamic path, the generic masked
/// loop (with early exit when the session has thresholds).
/// The session keeps only what follows from the decision: position, cache and the current path.
/// </summary>
internal sealed class Dispatcher
{
    private readonly RouterSet? _routers;
    private readonly DecodePathTable? _paths;
    private readonly IDecodePath? _pinned;
    private readonly PathPolicy _policy;

    /// <param name="routers">Routers for prompts; null when the session's mask is fixed.</param>
    /// <param name="threshold">The routers' threshold.</param>
    /// <param name="paths">Compiled paths by mask; null decodes every mask on the generic loop.</param>
    /// <param name="pinned">A path the session was pinned to (a task chosen by name); it runs for its mask.</param>
    /// <param name="policy">What a routed mask with no exact compiled path runs on.</param>
    public Dispatcher(RouterSet? routers, float threshold, DecodePathTable? paths, IDecodePath? pinned = null, PathPolicy policy = PathPolicy.Superset)
    {
        _policy = policy;
        _routers = routers;
        Threshold = threshold;
        _paths = paths;
        _pinned = pinned;
    }

    /// <summary>True when prompts are routed (the session was given routers).</summary>
    public bool Routes => _routers is not null;

    /// <summary>A layer whose mean router output over the prompt is below this is skipped.</summary>
    public float Threshold { get; }

    /// <summary>
    /// The path for <paramref name="mask"/> and why: the pinned path; else the compiled path of exactly the
    /// mask (not under <see cref="PathPolicy.Dynamic"/>); else, for a <paramref name="routed"/> mask under
    /// <see cref="PathPolicy.Superset"/>, the compiled path with the fewest layers that keeps every layer of
    /// the mask and only <paramref name="loaded"/> ones; else the generic <see cref="MaskedPath"/>. A mask the
    /// caller fixed is never widened: the caller asked for those layers.
    /// </summary>
    public (IDecodePath Path, PathReason Reason) Choose(LayerMask mask, LayerMask loaded, bool routed)
    {
        if (_pinned is not null && _pinned.Mask.Equals(mask)) return (_pinned, PathReason.Pinned);
        if (_paths is not null && _policy != PathPolicy.Dynamic)
        {
            if (_paths.TryGet(mask, out var exact)) return (exact, PathReason.Exact);
            if (routed && _policy == PathPolicy.Superset && _paths.Superset(mask, loaded) is { } superset)
                return (superset, PathReason.Superset);
        }
        return (new MaskedPath(mask), PathReason.Dynamic);
    }

    /// <summary>How statistics name a path: the generated path's class, or <c>generic</c> for the masked loop.</summary>
    public static string NameOf(IDecodePath path) => path is MaskedPath ? "generic" : path.GetType().Name;

    /// <summary>
    /// FiRST prefill of a prompt at positions 0.. : layer by layer over the whole prompt, pool layer l's router
    /// over the prompt's hidden states, skip the layer (no KV storage, residual unchanged) when the mean is
    /// below the threshold, run it otherwise. The mask is fixed for every decoded token after this. Leaves the
    /// last token's residual stream in <paramref name="t"/> for the logits. A layer outside
    /// <paramref name="loaded"/> is skipped whatever its router says (its weights are not in memory).
    /// </summary>
    public RoutingDecision Route(Transformer t, KvCache cache, ModelConfig config, ReadOnlySpan<int> tokens, LayerMask loaded, CancellationToken ct)
    {
        var routers = _routers ?? throw new InvalidOperationException("the session has no routers");
        int n = tokens.Length, dim = config.Dim, layers = config.NLayers, chunk = Transformer.PrefillChunk;
        var p = new float[layers];
        var kept = new bool[layers];
        // One chunk works in the batch buffer itself; longer prompts keep all residual streams here and move
        // each chunk through the batch buffer, since a layer's decision needs the whole prompt first.
        float[]? all = n > chunk ? new float[n * dim] : null;
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            t.EmbedBatch(tokens.Slice(start, count));
            if (all is not null) t.BatchHidden(count).CopyTo(all.AsSpan(start * dim));
        }
        long scoring = 0;
        for (int l = 0; l < layers; l++)
        {
            ct.ThrowIfCancellationRequested();
            var states = all is null ? t.BatchHidden(n) : all.AsSpan();
            long scoreStart = System.Diagnostics.Stopwatch.GetTimestamp();
            float sum = 0;
            for (int i = 0; i < n; i++) sum += routers.Score(l, states.Slice(i * dim, dim), config.NormEps);
            p[l] = sum / n;
            scoring += System.Diagnostics.Stopwatch.GetTimestamp() - scoreStart;
            kept[l] = p[l] >= Threshold && loaded.IsKept(l);
            if (!kept[l]) { cache.Release(l); continue; }
            cache.Allocate(l);
            for (int start = 0; start < n; start += chunk)
            {
                int count = Math.Min(chunk, n - start);
                if (all is not null) all.AsSpan(start * dim, count * dim).CopyTo(t.BatchHidden(count));
                t.LayerBatch(l, start, count, cache);
                if (all is not null) t.BatchHidden(count).CopyTo(all.AsSpan(start * dim));
            }
        }
        t.LoadHidden((all is null ? t.BatchHidden(n) : all.AsSpan()).Slice((n - 1) * dim, dim));
        return new RoutingDecision(LayerMask.FromFlags(kept), p, Threshold) { RoutersTime = System.Diagnostics.Stopwatch.GetElapsedTime(0, scoring) };
    }
}
