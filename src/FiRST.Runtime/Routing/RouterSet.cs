using System.Buffers.Binary;
using System.Numerics.Tensors;

namespace FiRST.Runtime.Routing;

/// <summary>
/// FiRST's routers: one linear probe per layer, <c>r_l = sigmoid(w_l · rmsnorm(h_l) + b_l)</c> on the hidden
/// state entering layer <c>l</c> (the norm has no gain: a gain would only rescale <c>w_l</c>). Prefill pools
/// <c>r_l</c> over the prompt and skips the layer for the whole run when the mean falls below a threshold.
/// Immutable; one instance serves any number of sessions.
/// </summary>
/// <remarks>
/// File format (<c>*.routers.bin</c>, little-endian): the 8 ASCII bytes <c>FIRSTRTR</c>, int32 version (1),
/// int32 n_layers, int32 dim, then per layer the bias (float32) followed by <c>dim</c> weights (float32).
/// The size is checked exactly.
/// </remarks>
public sealed class RouterSet
{
    /// <summary>The first eight bytes of a router file.</summary>
    public static ReadOnlySpan<byte> Magic => "FIRSTRTR"u8;

    /// <summary>The format version this runtime reads and writes.</summary>
    public const int Version = 1;

    private const int HeaderBytes = 20;
    private const int MaxLayers = 4096, MaxDim = 1 << 16;

    private readonly float[] _weights; // [layers, dim]
    private readonly float[] _bias;    // [layers]

    /// <summary>Creates routers from weights <c>[layers * dim]</c> (row per layer) and biases <c>[layers]</c>.</summary>
    /// <exception cref="ArgumentException">The sizes disagree, or a value is NaN or infinite.</exception>
    public RouterSet(int layers, int dim, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias)
    {
        if (layers is < 1 or > MaxLayers) throw new ArgumentOutOfRangeException(nameof(layers), layers, $"routers need 1 to {MaxLayers} layers");
        if (dim is < 1 or > MaxDim) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"routers need a width of 1 to {MaxDim}");
        if (weights.Length != layers * dim) throw new ArgumentException($"expected {layers} x {dim} weights, got {weights.Length}", nameof(weights));
        if (bias.Length != layers) throw new ArgumentException($"expected {layers} biases, got {bias.Length}", nameof(bias));
        if (!AllFinite(weights) || !AllFinite(bias)) throw new ArgumentException("router weights must be finite");
        Layers = layers;
        Dim = dim;
        _weights = weights.ToArray();
        _bias = bias.ToArray();
    }

    /// <summary>Number of layers (one router each).</summary>
    public int Layers { get; }

    /// <summary>Width of the hidden state the routers read.</summary>
    public int Dim { get; }

    /// <summary>The file the routers were loaded from, or null.</summary>
    public string? Path { get; private init; }

    /// <summary>Weights of layer <paramref name="layer"/>'s router, <c>[dim]</c>.</summary>
    public ReadOnlySpan<float> Weights(int layer) => _weights.AsSpan(layer * Dim, Dim);

    /// <summary>Bias of layer <paramref name="layer"/>'s router.</summary>
    public float Bias(int layer) => _bias[layer];

    /// <summary>
    /// <c>sigmoid(w_l · h / rms(h) + b_l)</c> for one hidden state <paramref name="hidden"/> <c>[dim]</c>;
    /// <paramref name="eps"/> is the model's RMSNorm epsilon. Allocates nothing.
    /// </summary>
    public float Score(int layer, ReadOnlySpan<float> hidden, float eps)
    {
        float meanSquare = TensorPrimitives.SumOfSquares(hidden) / hidden.Length;
        float z = TensorPrimitives.Dot(Weights(layer), hidden) / MathF.Sqrt(meanSquare + eps) + _bias[layer];
        return 1f / (1f + MathF.Exp(-z));
    }

    /// <summary>Throws unless these routers were trained for a model of <paramref name="config"/>'s shape.</summary>
    /// <exception cref="ModelLoadException">Layer count or width differ.</exception>
    public void EnsureFits(ModelConfig config, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (Layers != config.NLayers || Dim != config.Dim)
            throw new ModelLoadException(Path ?? "routers", "n_layers/dim",
                $"the routers are for {Layers} layers of width {Dim} but the model {modelPath} has {config.NLayers} layers of width {config.Dim}");
    }

    /// <summary>Reads and validates a router file.</summary>
    /// <exception cref="ModelLoadException">The file is missing, truncated, of another format or version, or holds non-finite values.</exception>
    public static RouterSet Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Bounded before reading: the largest valid file has MaxLayers x (MaxDim + 1) floats.
        byte[] bytes = Loading.JsonFile.ReadBounded(path, HeaderBytes + (long)MaxLayers * (MaxDim + 1) * 4, "router file not found");
        return Parse(bytes, path);
    }

    /// <summary>Parses router file bytes; <paramref name="source"/> names the file in errors.</summary>
    public static RouterSet Parse(ReadOnlySpan<byte> bytes, string source)
    {
        Loading.BinaryHeader.Check(bytes, source, HeaderBytes, Magic, Version, "router");
        int layers = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        int dim = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]);
        if (layers is < 1 or > MaxLayers) throw new ModelLoadException(source, "n_layers", $"{layers} is outside 1..{MaxLayers}");
        if (dim is < 1 or > MaxDim) throw new ModelLoadException(source, "dim", $"{dim} is outside 1..{MaxDim}");
        long expected = HeaderBytes + (long)layers * (dim + 1) * 4;
        if (bytes.Length != expected)
            throw new ModelLoadException(source, "size", $"{bytes.Length} bytes, but {layers} layers of width {dim} take exactly {expected}");

        var weights = new float[layers * dim];
        var bias = new float[layers];
        var body = bytes[HeaderBytes..];
        for (int l = 0; l < layers; l++)
        {
            var row = body.Slice(l * (dim + 1) * 4, (dim + 1) * 4);
            bias[l] = BinaryPrimitives.ReadSingleLittleEndian(row);
            for (int i = 0; i < dim; i++) weights[l * dim + i] = BinaryPrimitives.ReadSingleLittleEndian(row[(4 + 4 * i)..]);
            if (!float.IsFinite(bias[l]) || !AllFinite(weights.AsSpan(l * dim, dim)))
                throw new ModelLoadException(source, $"layer {l}", "the router holds NaN or infinite values");
        }
        return new RouterSet(layers, dim, weights, bias) { Path = source };
    }

    /// <summary>Writes the routers in the format <see cref="Load"/> reads.</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = new byte[HeaderBytes + Layers * (Dim + 1) * 4];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), Layers);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16), Dim);
        int at = HeaderBytes;
        for (int l = 0; l < Layers; l++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at), _bias[l]);
            at += 4;
            foreach (float w in Weights(l))
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at), w);
                at += 4;
            }
        }
        File.WriteAllBytes(path, bytes);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values) if (!float.IsFinite(v)) return false;
        return true;
    }
}
