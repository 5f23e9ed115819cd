using FiRST.Runtime.Inference;

namespace FiRST.Runtime.Paths;

/// <summary>
/// A way to advance a session by one token through a fixed set of layers. The runtime embeds the token
/// before and computes the logits after; a path only runs its layers. Generated task paths implement it
/// with straight-line calls of their kept layers; <see cref="MaskedPath"/> is the generic loop.
/// </summary>
public interface IDecodePath
{
    /// <summary>The layers this path runs; sessions using it must have been created with this mask.</summary>
    LayerMask Mask { get; }

    /// <summary>Runs the path's layers at <paramref name="position"/>, writing keys and values into <paramref name="cache"/>.</summary>
    void RunLayers(Transformer transformer, KvCache cache, int position);
}

/// <summary>The generic path: any mask, one test per layer at run time.</summary>
public sealed class MaskedPath(LayerMask mask) : IDecodePath
{
    /// <inheritdoc />
    public LayerMask Mask { get; } = mask ?? throw new ArgumentNullException(nameof(mask));

    /// <inheritdoc />
    public void RunLayers(Transformer transformer, KvCache cache, int position)
    {
        foreach (int layer in Mask.KeptLayers) transformer.Layer(layer, position, cache);
    }
}
