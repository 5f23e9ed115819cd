using System.Buffers.Binary;

namespace FiRST.Runtime.Adapters;

/// <summary>
/// Low-rank adapters (LoRA) for every projection of every layer, trained with the routers so the layers that
/// remain can make up for the ones skipped. Loading a model with one (<see cref="ModelLoadOptions.Adapter"/>)
/// merges <c>W + scale · B · A</c> into float32 copies of the weights once, so decoding costs nothing extra.
/// Immutable.
/// </summary>
/// <remarks>
/// File format (<c>*.lora.bin</c>, little-endian): the 8 ASCII bytes <c>FIRSTLRA</c>, int32 version (1),
/// int32 n_layers, dim, hidden_dim, kv_dim, rank, float32 scale; then per layer, for wq, wk, wv, wo, w1, w2,
/// w3 in that order, A <c>[rank, in]</c> followed by B <c>[out, rank]</c> (float32). The size is checked
/// exactly.
/// </remarks>
public sealed class LoraAdapter
{
    /// <summary>The first eight bytes of an adapter file.</summary>
    public static ReadOnlySpan<byte> Magic => "FIRSTLRA"u8;

    /// <summary>The format version this runtime reads and writes.</summary>
    public const int Version = 1;

    /// <summary>The adapted projections of a layer, in file order.</summary>
    public static IReadOnlyList<string> Targets { get; } = ["wq", "wk", "wv", "wo", "w1", "w2", "w3"];

    private const int HeaderBytes = 36, MaxRank = 1024, MaxDim = 1 << 20, MaxLayers = 4096;
    private readonly float[][] _a, _b; // [layer * 7 + target]

    /// <summary>Creates an adapter from its matrices (<c>a[layer * 7 + target]</c> is <c>[rank, in]</c>, <c>b</c> is <c>[out, rank]</c>).</summary>
    public LoraAdapter(int layers, int dim, int hiddenDim, int kvDim, int rank, float scale, IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        if (layers is < 1 or > MaxLayers || dim is < 1 or > MaxDim || hiddenDim is < 1 or > MaxDim || kvDim is < 1 or > MaxDim || rank is < 1 or > MaxRank)
            throw new ArgumentException($"adapter shape out of range: {layers} layers, dim {dim}, hidden {hiddenDim}, kv {kvDim}, rank {rank}");
        if (!float.IsFinite(scale)) throw new ArgumentException("the adapter scale must be finite");
        if (a.Count != layers * Targets.Count || b.Count != layers * Targets.Count) throw new ArgumentException($"expected {layers * Targets.Count} A and B matrices");
        Layers = layers; Dim = dim; HiddenDim = hiddenDim; KvDim = kvDim; Rank = rank; Scale = scale;
        _a = new float[a.Count][];
        _b = new float[b.Count][];
        for (int i = 0; i < a.Count; i++)
        {
            var (rows, cols) = Shape(i % Targets.Count);
            if (a[i].Length != (long)rank * cols || b[i].Length != (long)rows * rank)
                throw new ArgumentException($"layer {i / Targets.Count} {Targets[i % Targets.Count]}: A must be {rank}x{cols} and B {rows}x{rank}");
            if (!a[i].All(float.IsFinite) || !b[i].All(float.IsFinite)) throw new ArgumentException("adapter values must be finite");
            _a[i] = (float[])a[i].Clone();
            _b[i] = (float[])b[i].Clone();
        }
    }

    /// <summary>Layers adapted.</summary>
    public int Layers { get; }
    /// <summary>Model width.</summary>
    public int Dim { get; }
    /// <summary>Feed-forward width.</summary>
    public int HiddenDim { get; }
    /// <summary>Key/value width.</summary>
    public int KvDim { get; }
    /// <summary>Rank of every adapter.</summary>
    public int Rank { get; }
    /// <summary>Factor applied to <c>B · A</c> (alpha / rank).</summary>
    public float Scale { get; }
    /// <summary>The file the adapter was loaded from, or null.</summary>
    public string? Path { get; private init; }

    /// <summary>A <c>[rank, in]</c> of <paramref name="target"/> (index into <see cref="Targets"/>) in <paramref name="layer"/>.</summary>
    public ReadOnlySpan<float> A(int layer, int target) => _a[layer * Targets.Count + target];

    /// <summary>B <c>[out, rank]</c> of <paramref name="target"/> in <paramref name="layer"/>.</summary>
    public ReadOnlySpan<float> B(int layer, int target) => _b[layer * Targets.Count + target];

    /// <summary>Rows and columns (out, in) of target <paramref name="target"/>'s weight.</summary>
    public (int Rows, int Cols) Shape(int target) => TargetShape(target, Dim, HiddenDim, KvDim);

    /// <summary>Rows and columns (out, in) of target <paramref name="target"/>'s weight in a model of these widths.</summary>
    public static (int Rows, int Cols) TargetShape(int target, int dim, int hiddenDim, int kvDim) => Targets[target] switch
    {
        "wq" or "wo" => (dim, dim),
        "wk" or "wv" => (kvDim, dim),
        "w1" or "w3" => (hiddenDim, dim),
        _ => (dim, hiddenDim),
    };

    /// <summary>Throws unless the adapter was trained for a model of <paramref name="config"/>'s shape.</summary>
    public void EnsureFits(ModelConfig config, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (Layers != config.NLayers || Dim != config.Dim || HiddenDim != config.HiddenDim || KvDim != config.KvDim)
            throw new ModelLoadException(Path ?? "adapter", "shape",
                $"the adapter is for {Layers} layers, dim {Dim}, hidden {HiddenDim}, kv {KvDim}; the model {modelPath} has {config.NLayers} layers, dim {config.Dim}, hidden {config.HiddenDim}, kv {config.KvDim}");
    }

    /// <summary>Reads and validates an adapter file.</summary>
    /// <exception cref="ModelLoadException">Missing, truncated, another format or version, or non-finite values.</exception>
    public static LoraAdapter Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = Loading.JsonFile.ReadBounded(path, int.MaxValue, "adapter file not found");
        return Parse(bytes, path);
    }

    /// <summary>Parses adapter file bytes; <paramref name="source"/> names the file in errors.</summary>
    public static LoraAdapter Parse(ReadOnlySpan<byte> bytes, string source)
    {
        Loading.BinaryHeader.Check(bytes, source, HeaderBytes, Magic, Version, "adapter");
        int layers = Field(bytes, 12, "n_layers", MaxLayers, source), dim = Field(bytes, 16, "dim", MaxDim, source);
        int hidden = Field(bytes, 20, "hidden_dim", MaxDim, source), kv = Field(bytes, 24, "kv_dim", MaxDim, source);
        int rank = Field(bytes, 28, "rank", MaxRank, source);
        float scale = BinaryPrimitives.ReadSingleLittleEndian(bytes[32..]);
        if (!float.IsFinite(scale)) throw new ModelLoadException(source, "scale", "the scale must be a finite number");
        var shapes = Enumerable.Range(0, Targets.Count).Select(t => TargetShape(t, dim, hidden, kv)).ToArray();
        long perLayer = 0;
        foreach (var (r, c) in shapes) perLayer += (long)rank * c + (long)r * rank;
        long expected = HeaderBytes + perLayer * layers * sizeof(float);
        if (bytes.Length != expected)
            throw new ModelLoadException(source, "size", $"{bytes.Length} bytes, but {layers} layers of rank {rank} (dim {dim}, hidden {hidden}, kv {kv}) take exactly {expected}");
        var a = new float[layers * shapes.Length][];
        var b = new float[layers * shapes.Length][];
        int at = HeaderBytes;
        for (int l = 0; l < layers; l++)
            for (int t = 0; t < shapes.Length; t++)
            {
                a[l * shapes.Length + t] = Read(bytes, ref at, rank * shapes[t].Cols, source, l, t);
                b[l * shapes.Length + t] = Read(bytes, ref at, shapes[t].Rows * rank, source, l, t);
            }
        return new LoraAdapter(layers, dim, hidden, kv, rank, scale, a, b) { Path = source };
    }

    /// <summary>Writes the adapter in the format <see cref="Load"/> reads.</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var w = new BinaryWriter(File.Create(path));
        w.Write(Magic);
        foreach (int v in new[] { Version, Layers, Dim, HiddenDim, KvDim, Rank }) w.Write(v);
        w.Write(Scale);
        for (int i = 0; i < _a.Length; i++)
        {
            foreach (float v in _a[i]) w.Write(v);
            foreach (float v in _b[i]) w.Write(v);
        }
    }

    private static int Field(ReadOnlySpan<byte> bytes, int offset, string name, int max, string source)
    {
        int v = BinaryPrimitives.ReadInt32LittleEndian(bytes[offset..]);
        if (v < 1 || v > max) throw new ModelLoadException(source, name, $"{v} is outside 1..{max}");
        return v;
    }

    private static float[] Read(ReadOnlySpan<byte> bytes, ref int at, int count, string source, int layer, int target)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++, at += 4)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[at..]);
            if (!float.IsFinite(values[i])) throw new ModelLoadException(source, $"layer {layer} {Targets[target]}", "the adapter holds NaN or infinite values");
        }
        return values;
    }
}
