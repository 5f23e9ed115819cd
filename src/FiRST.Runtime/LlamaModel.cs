using FiRST.Runtime.Inference;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime;

/// <summary>Options for <see cref="LlamaModel.Load"/>.</summary>
public sealed class ModelLoadOptions
{
    /// <summary>
    /// Layers to load; <c>null</c> loads all. Weights of other layers are never mapped or converted, and
    /// sessions of this model can only keep loaded layers.
    /// </summary>
    public LayerMask? Layers { get; init; }

    /// <summary>
    /// Weight format to run with. <see cref="WeightFormat.AsStored"/> keeps float32, bfloat16 and int8 as the
    /// file holds them; <see cref="WeightFormat.F32"/> widens bfloat16 to float32; <see cref="WeightFormat.Q8"/>
    /// quantizes float32 or bfloat16 weights at load (int8 with a float32 scale per group of
    /// <see cref="GroupSize"/>); <see cref="WeightFormat.Q4"/> to 4 bits. A file that is already quantized stays as it is.
    /// </summary>
    public WeightFormat Format { get; init; } = WeightFormat.AsStored;

    /// <summary>
    /// A LoRA adapter (trained with the routers) to merge into the weights at load: float32 copies of the
    /// adapted layers' projections, before any quantization. Null loads the weights as stored.
    /// </summary>
    public Adapters.LoraAdapter? Adapter { get; init; }

    /// <summary>
    /// Check every weight for NaN and infinity at load (an error names the tensor). <c>null</c>, the default,
    /// checks models of up to 1 GiB of weights, where the scan costs well under a second.
    /// </summary>
    public bool? CheckFinite { get; init; }

    /// <summary>Preferred quantization group size (a power of two); halved where it does not divide a row.</summary>
    public int GroupSize { get; init; } = Quantizer.DefaultGroupSize;
}

/// <summary>How weights are held in memory.</summary>
public enum WeightFormat
{
    /// <summary>
    /// As the file stores them: float32, bfloat16 (matrices read in place from the mapped file, widened in
    /// registers), or int8 for a quantized file. F16 tensors and norm vectors are widened to float32.
    /// </summary>
    AsStored,
    /// <summary>Group-wise symmetric int8 (Q8_0) for every matrix product; norms stay float32.</summary>
    Q8,
    /// <summary>Float32: bfloat16 matrices widened once at load (twice the memory and bytes per token); an int8 file stays int8.</summary>
    F32,
    /// <summary>
    /// 4-bit (llama.cpp's Q4_0 values: groups of 32, value = (nibble - 8) * scale, with a float32 scale) for every
    /// matrix product whose rows are whole groups of 32; any other matrix int8 as <see cref="Q8"/>. Norms stay float32.
    /// </summary>
    Q4,
}

/// <summary>
/// A loaded Llama-family model: configuration and weights, shared read-only by any number of
/// <see cref="InferenceSession"/>s. Load once, create a session per conversation or thread.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private readonly ModelWeights _weights;
    private volatile bool _disposed;

    private LlamaModel(string path, ModelConfig config, ModelWeights weights, string? adapterPath)
    {
        Path = path;
        // A directory is named by the file that holds its weights.
        string single = System.IO.Path.Combine(path, "model.safetensors");
        WeightsPath = !Directory.Exists(path) ? path
            : File.Exists(single) ? single : System.IO.Path.Combine(path, "model.safetensors.index.json");
        AdapterPath = adapterPath;
        Config = config;
        _weights = weights;
        Rope = new RopeTable(config);
    }

    /// <summary>Where the model was loaded from.</summary>
    public string Path { get; }

    /// <summary>The file that holds the weights (<see cref="Path"/>, or a directory's model.safetensors or shard index), named in errors they cause.</summary>
    internal string WeightsPath { get; }

    /// <summary>The file of the LoRA adapter merged at load ("" for one built in memory), or null (named in errors the weights cause).</summary>
    internal string? AdapterPath { get; }

    /// <summary>The model's shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>The weights (views into memory this model owns).</summary>
    internal ModelWeights Weights
    {
        get
        {
            ThrowIfDisposed();
            return _weights;
        }
    }

    internal RopeTable Rope { get; }

    /// <summary>
    /// Loads a model. <paramref name="path"/> is a llama2.c <c>.bin</c> checkpoint (v0, v1 or v2), a Hugging Face
    /// directory (<c>config.json</c> + <c>model.safetensors</c> or its sharded index), a <c>.safetensors</c> file
    /// with <c>config.json</c> beside it, or a llama.cpp <c>.gguf</c> file of architecture llama (F32, F16, BF16,
    /// Q8_0 or Q4_0 tensors).
    /// </summary>
    /// <exception cref="ModelLoadException">The file is missing, truncated, corrupt or inconsistent.</exception>
    public static LlamaModel Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Func<int, bool>? loadLayer = options?.Layers is { } mask ? mask.IsKept : null;
        (ModelConfig config, ModelWeights weights) loaded;
        bool checkFinite(ModelConfig c) => options?.CheckFinite ?? c.ParameterCount * sizeof(float) <= WeightValidation.DefaultLimitBytes;
        // Safetensors tensors are checked as they are read, so an error names the shard that holds them.
        bool safetensors = true;
        bool widen = options?.Format == WeightFormat.F32;
        // A safetensors model is quantized tensor by tensor as it is read, so int8 loading never holds the file's
        // weights and their int8 copy at once; an adapter merges into float32 first, so then it is quantized after.
        int? quantize = options is { Format: WeightFormat.Q8 or WeightFormat.Q4, Adapter: null } ? options.GroupSize : null;
        var format = options?.Format ?? WeightFormat.AsStored;
        if (Directory.Exists(path))
            loaded = SafetensorsCheckpoint.Load(path, loadLayer, checkFinite, widen, quantize, format);
        else if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            loaded = SafetensorsCheckpoint.Load(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, loadLayer, checkFinite, widen, quantize, format);
        else if (IsGguf(path))
        {
            loaded = GgufCheckpoint.Load(path, loadLayer);
            safetensors = false;
        }
        else
        {
            loaded = Llama2cCheckpoint.Load(path, loadLayer);
            safetensors = false;
        }

        if (!safetensors && checkFinite(loaded.config))
        {
            try
            {
                WeightValidation.CheckFinite(loaded.weights, path);
            }
            catch
            {
                loaded.weights.Dispose();
                throw;
            }
        }
        if (options?.Layers is { } m && m.LayerCount != loaded.config.NLayers)
        {
            loaded.weights.Dispose();
            throw new ModelLoadException(path, "n_layers", $"the layer mask has {m.LayerCount} layers but the model has {loaded.config.NLayers}");
        }
        if (options?.Adapter is { } adapter)
        {
            try
            {
                adapter.EnsureFits(loaded.config, path);
                loaded.weights = Adapters.LoraMerge.MergeAll(loaded.weights, adapter, path, [loaded.weights]);
            }
            catch
            {
                loaded.weights.Dispose();
                throw;
            }
        }
        // Int8 weights are repacked into the interleaved order the kernels read fastest, whether they were
        // quantized here or read from a quantized file.
        if (format is WeightFormat.Q8 or WeightFormat.Q4 || loaded.weights.IsQuantized)
        {
            try
            {
                int groupSize = loaded.weights.IsInt8 ? loaded.weights.GroupSize : Quantizer.GroupSizeFor(loaded.config, options?.GroupSize ?? Quantizer.DefaultGroupSize);
                loaded.weights = Quantizer.QuantizeAll(loaded.weights, format == WeightFormat.Q4 ? WeightFormat.Q4 : WeightFormat.Q8, groupSize, [loaded.weights]);
            }
            catch
            {
                loaded.weights.Dispose();
                throw;
            }
        }
        return new LlamaModel(path, loaded.config, loaded.weights, options?.Adapter is { } a ? a.Path ?? "" : null);
    }

    /// <summary>
    /// A float32 model of <paramref name="config"/>'s shape whose weights are all zero, every matrix a view of one
    /// small buffer: any path over that shape runs on it, so its code can be compiled before the real weights are
    /// loaded (under the JIT, the first decode step otherwise pays for it). Its outputs mean nothing.
    /// </summary>
    internal static unsafe LlamaModel Blank(ModelConfig config)
    {
        int dim = config.Dim, kv = config.KvDim, hid = config.HiddenDim;
        long largest = Math.Max((long)config.VocabSize * dim, Math.Max((long)hid * dim, (long)dim * dim));
        var zeros = NativeBuffer.Floats(largest);
        System.Runtime.InteropServices.NativeMemory.Clear(zeros.Data, (nuint)zeros.Bytes);
        Matrix M(int rows, int cols) => new(zeros.Data, rows, cols);
        var layers = new LayerWeights?[config.NLayers];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = new LayerWeights
            {
                RmsAtt = M(1, dim), Wq = M(dim, dim), Wk = M(kv, dim), Wv = M(kv, dim), Wo = M(dim, dim),
                RmsFfn = M(1, dim), W1 = M(hid, dim), W2 = M(dim, hid), W3 = M(hid, dim),
            };
        var embedding = M(config.VocabSize, dim);
        return new LlamaModel("(blank)", config, new ModelWeights(embedding, layers, M(1, dim), embedding, [zeros]), null);
    }

    /// <summary>Reads only the configuration of a model file or directory (nothing is kept mapped).</summary>
    public static ModelConfig ReadConfig(string path)
    {
        if (Directory.Exists(path)) return HuggingFaceConfig.Read(System.IO.Path.Combine(path, "config.json"));
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return HuggingFaceConfig.Read(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, "config.json"));
        if (IsGguf(path)) return GgufCheckpoint.ReadConfig(path);
        using var file = MappedFile.Open(path);
        return Llama2cCheckpoint.ReadConfig(file);
    }

    /// <summary>A <c>.gguf</c> name, or a file that starts with GGUF's magic whatever its name.</summary>
    private static bool IsGguf(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || GgufFile.HasMagic(path);

    /// <summary>True when layer <paramref name="layer"/>'s weights were loaded.</summary>
    public bool IsLayerLoaded(int layer) => _weights.Layers[layer] is not null;

    /// <summary>The layers this instance loaded: a session without a mask starts from these, and routers keep no other.</summary>
    internal LayerMask LoadedLayers => _loadedLayers ??= LayerMask.FromFlags(Enumerable.Range(0, Config.NLayers).Select(IsLayerLoaded).ToArray());

    private LayerMask? _loadedLayers;

    /// <summary>Creates an independent session (its own KV cache and scratch buffers).</summary>
    public InferenceSession CreateSession(SessionOptions? options = null)
    {
        ThrowIfDisposed();
        return new InferenceSession(this, options ?? new SessionOptions());
    }

    internal void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(LlamaModel), $"the model loaded from {Path} has been disposed");
    }

    /// <summary>Marks a forward step as using the weights, so <see cref="Dispose"/> waits for it to finish.</summary>
    internal void Enter()
    {
        Interlocked.Increment(ref _users);
        if (_disposed)
        {
            Interlocked.Decrement(ref _users);
            ThrowIfDisposed();
        }
    }

    /// <summary>Ends what <see cref="Enter"/> began.</summary>
    internal void Exit() => Interlocked.Decrement(ref _users);

    private int _users;

    /// <summary>
    /// Releases the weights once running forward steps end. Sessions that use the model afterwards fail
    /// with <see cref="ObjectDisposedException"/> instead of reading freed memory.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var spin = new SpinWait();
        while (Volatile.Read(ref _users) != 0) spin.SpinOnce();
        _weights.Dispose();
    }
}
