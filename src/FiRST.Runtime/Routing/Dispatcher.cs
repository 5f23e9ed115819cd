using FiRST.Runtime.Inference;
using FiRST.Runtime.Paths;

namespace FiRST.Runtime.Routing;

/// <summary>
/// Routing at prefill and the choice of decode path, in one place. A session asks it once per prompt: the
/// routers' pooled probabilities decide which layers run (and so which layers get KV storage), and the path
/// table gives the compiled path for that mask, or the generic masked loop when none was compiled.
/// The session keeps only what follows from the decision: position, cache and the current path.
/// </summary>
internal sealed class Dispatcher
{
    private readonly RouterSet? _routers;
    private readonly DecodePathTable? _paths;
    private readonly IDecodePath? _pinned;

    /// <param name="routers">Routers for prompts; null when the session's mask is fixed.</param>
    /// <param name="threshold">The routers' threshold.</param>
    /// <param name="paths">Compiled paths by mask; null decodes every mask on the generic loop.</param>
    /// <param name="pinned">A path the session was pinned to (a task chosen by name); it runs for its mask.</param>
    public Dispatcher(RouterSet? routers, float threshold, DecodePathTable? paths, IDecodePath? pinned = null)
    {
        _routers = routers;
        Threshold = threshold;
        _paths = paths;
        _pinned = pinned;
    }

    /// <summary>True when prompts are routed (the session was given routers).</summary>
    public bool Routes => _routers is not null;

    /// <summary>A layer whose mean router output over the prompt is below this is skipped.</summary>
    public float Threshold { get; }

    /// <summary>The compiled path for <paramref name="mask"/>, or the generic <see cref="MaskedPath"/>.</summary>
    public IDecodePath Choose(LayerMask mask) =>
        _pinned is not null && _pinned.Mask.Equals(mask) ? _pinned : _paths?.Resolve(mask) ?? new MaskedPath(mask);

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
        for (int l = 0; l < layers; l++)
        {
            ct.ThrowIfCancellationRequested();
            var states = all is null ? t.BatchHidden(n) : all.AsSpan();
            float sum = 0;
            for (int i = 0; i < n; i++) sum += routers.Score(l, states.Slice(i * dim, dim), config.NormEps);
            p[l] = sum / n;
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
        return new RoutingDecision(LayerMask.FromFlags(kept), p, Threshold);
    }
}
