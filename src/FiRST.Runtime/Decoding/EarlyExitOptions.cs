using System.Globalization;

namespace FiRST.Runtime.Decoding;

/// <summary>
/// Token-level early exit on the dynamic path: after layer <c>l</c>, when <see cref="Thresholds"/><c>[l]</c> is
/// set, the shared final norm and classifier read the residual stream, and the token leaves the model there if
/// the top probability is at least that threshold. The layers it skipped still get its key and value (from
/// the exit hidden state through their K and V projections), so later tokens can attend to it.
/// </summary>
public sealed record EarlyExitOptions
{
    private readonly float?[] _thresholds;

    /// <summary>Creates the options from one threshold (or null: no exit) per layer of the model.</summary>
    /// <exception cref="ArgumentException">No layer has a threshold, or one is outside (0, 1].</exception>
    public EarlyExitOptions(IReadOnlyList<float?> thresholds)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        _thresholds = [.. thresholds];
        bool any = false;
        for (int l = 0; l < _thresholds.Length; l++)
        {
            if (_thresholds[l] is not { } t) continue;
            EnsureThreshold(t, $"the early-exit threshold of layer {l}");
            any = true;
        }
        if (!any) throw new ArgumentException("early exit needs a threshold at one layer at least", nameof(thresholds));
    }

    /// <summary>
    /// The same <paramref name="threshold"/> after every layer of a model of <paramref name="layers"/> layers
    /// from <paramref name="firstLayer"/> on (the last layer needs none: the token leaves there anyway).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is outside (0, 1].</exception>
    public static EarlyExitOptions Uniform(int layers, float threshold, int firstLayer = 0)
    {
        EnsureThreshold(threshold, "the early-exit threshold");
        if (layers < 2) throw new ArgumentOutOfRangeException(nameof(layers), layers, "early exit needs a model of 2 layers at least");
        var t = new float?[layers];
        for (int l = Math.Max(0, firstLayer); l < layers - 1; l++) t[l] = threshold;
        return new EarlyExitOptions(t);
    }

    /// <summary>Top probability needed to exit after each layer; null where the token may not exit.</summary>
    public IReadOnlyList<float?> Thresholds => _thresholds;

    /// <summary>The threshold after layer <paramref name="layer"/> (null: no exit there, or past the list's end).</summary>
    internal float? At(int layer) => (uint)layer < (uint)_thresholds.Length ? _thresholds[layer] : null;

    /// <summary>Throws unless there is one threshold per layer of a model of <paramref name="layers"/> layers.</summary>
    public void EnsureFits(int layers)
    {
        if (_thresholds.Length != layers)
            throw new ArgumentException($"the early-exit thresholds name {_thresholds.Length} layers but the model has {layers}");
    }

    private static void EnsureThreshold(float t, string what)
    {
        if (!(t > 0f && t <= 1f))
            throw new ArgumentOutOfRangeException(nameof(t), t, $"{what} must be in (0, 1]: {t.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <inheritdoc />
    public bool Equals(EarlyExitOptions? other) => other is not null && _thresholds.AsSpan().SequenceEqual(other._thresholds);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var t in _thresholds) h.Add(t);
        return h.ToHashCode();
    }

    /// <summary>The thresholds, <c>-</c> where none.</summary>
    public override string ToString() =>
        string.Join(" ", _thresholds.Select(t => t is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) : "-"));
}
