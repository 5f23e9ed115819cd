using FiRST.Runtime;
using FiRST.Runtime.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FiRST.Training.Model;

/// <summary>
/// The Llama architecture of the C# runtime as a TorchSharp module, for training: same weights, same math
/// (RMSNorm, interleaved RoPE, grouped-query causal attention, SwiGLU), whole sequences at once.
/// Parameters use llama2.c's names and [out, in] layout, so checkpoints move between the two without
/// reshaping.
/// </summary>
public sealed class TorchLlama : nn.Module<Tensor, Tensor>
{
    private readonly ModelConfig _c;
    private readonly Parameter _embedding;
    private readonly ModuleList<TorchLlamaLayer> _layers;
    private readonly Parameter _rmsFinal;
    private readonly Parameter? _classifier;
    private readonly Tensor _cos, _sin;

    /// <summary>Creates a model with zero weights (load or initialise them next).</summary>
    public TorchLlama(ModelConfig config) : base("llama")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate("TorchLlama");
        _c = config;
        _embedding = nn.Parameter(zeros(config.VocabSize, config.Dim));
        _layers = nn.ModuleList(Enumerable.Range(0, config.NLayers).Select(_ => new TorchLlamaLayer(config)).ToArray());
        _rmsFinal = nn.Parameter(ones(config.Dim));
        _classifier = config.SharedClassifier ? null : nn.Parameter(zeros(config.VocabSize, config.Dim));

        // RoPE angles as llama2.c computes them: pair i of a head turns by pos * theta^(-2i / head_size); a scaled
        // model's frequencies come from the runtime, so training and inference turn pairs alike.
        int half = config.HeadSize / 2;
        var freq = config.RopeScaling.Type == RopeScalingType.Default
            ? pow(config.RopeTheta, arange(0, half, dtype: float32) * (-2.0f / config.HeadSize))
            : tensor(FiRST.Runtime.Inference.RopeFrequencies.Inverse(config));
        var angles = outer(arange(0, config.MaxSeqLen, dtype: float32), freq);
        _cos = angles.cos().detach();
        _sin = angles.sin().detach();
        RegisterComponents();
    }

    /// <summary>The model's shape.</summary>
    public ModelConfig Config => _c;

    /// <summary>The transformer layers.</summary>
    public IList<TorchLlamaLayer> Layers => _layers;

    /// <summary>Logits <c>[batch, time, vocab]</c> for token ids <c>[batch, time]</c> (int64).</summary>
    public override Tensor forward(Tensor tokens) => Logits(Hidden(tokens, _c.NLayers));

    /// <summary>The residual stream after the first <paramref name="layers"/> layers, <c>[batch, time, dim]</c>.</summary>
    public Tensor Hidden(Tensor tokens, int layers)
    {
        long time = tokens.shape[1];
        if (time > _c.MaxSeqLen) throw new ArgumentException($"{time} positions exceed the context of {_c.MaxSeqLen}");
        var x = Embed(tokens);
        var cos = Cos(time);
        var sin = Sin(time);
        for (int l = 0; l < layers; l++) x = _layers[l].forward(x, cos, sin);
        return x;
    }

    /// <summary>Token embeddings <c>[batch, time, dim]</c> of ids <c>[batch, time]</c>.</summary>
    public Tensor Embed(Tensor tokens) =>
        _embedding.index_select(0, tokens.reshape(-1)).reshape(tokens.shape[0], tokens.shape[1], _c.Dim);

    /// <summary>Final RMSNorm and classifier of a residual stream.</summary>
    public Tensor Logits(Tensor hidden) =>
        nn.functional.linear(TorchLlamaLayer.RmsNorm(hidden, _rmsFinal, _c.NormEps), _classifier ?? _embedding);

    /// <summary>RoPE cosines for the first <paramref name="time"/> positions, <c>[time, head_size / 2]</c>.</summary>
    public Tensor Cos(long time) => _cos[..(int)time];

    /// <summary>RoPE sines for the first <paramref name="time"/> positions.</summary>
    public Tensor Sin(long time) => _sin[..(int)time];

    /// <summary>Copies every weight from a model the runtime loaded (float32 weights, all layers loaded).</summary>
    public void LoadFrom(LlamaModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Config != _c) throw new ArgumentException("the runtime model has another shape");
        var w = model.Weights;
        if (w.IsQuantized) throw new ArgumentException("load float32 or bfloat16 weights (WeightFormat.AsStored) to train");
        using var _ = no_grad();
        Copy(_embedding, w.TokenEmbedding);
        for (int l = 0; l < _c.NLayers; l++)
            _layers[l].LoadFrom(w.Layers[l] ?? throw new ArgumentException($"layer {l} is not loaded"));
        Copy(_rmsFinal, w.RmsFinal);
        if (_classifier is not null) Copy(_classifier, w.Classifier);
    }

    /// <summary>Writes the weights as a llama2.c v0 checkpoint the runtime loads.</summary>
    public void SaveLlama2c(string path)
    {
        using var _ = no_grad();
        using var file = new BinaryWriter(File.Create(path));
        foreach (int v in new[] { _c.Dim, _c.HiddenDim, _c.NLayers, _c.NHeads, _c.NKvHeads, _c.SharedClassifier ? _c.VocabSize : -_c.VocabSize, _c.MaxSeqLen })
            file.Write(v);
        Write(file, _embedding);
        // llama2.c groups tensors by kind across layers.
        foreach (var pick in new Func<TorchLlamaLayer, Tensor>[] { l => l.RmsAtt, l => l.Wq, l => l.Wk, l => l.Wv, l => l.Wo, l => l.RmsFfn, l => l.W1, l => l.W2, l => l.W3 })
            foreach (var layer in _layers) Write(file, pick(layer));
        Write(file, _rmsFinal);
        Write(file, zeros(_c.MaxSeqLen * _c.HeadSize)); // legacy RoPE tables, never read
        if (_classifier is not null) Write(file, _classifier);
    }

    internal static unsafe void Copy(Tensor target, Matrix source)
    {
        // Row by row, so bfloat16 weights are widened on the way.
        var values = new float[checked((int)source.Length)];
        for (int r = 0; r < source.Rows; r++) source.CopyRow(r, values.AsSpan(r * source.Cols, source.Cols));
        // Disposed here, not by the finalizer: a temporary that only native code still uses can otherwise be
        // finalized in the middle of copy_ (seen here as a crash in TensorImpl::retain_ about once in five loads).
        using var flat = tensor(values);
        using var shaped = flat.reshape(target.shape);
        target.copy_(shaped);
    }

    private static void Write(BinaryWriter file, Tensor t)
    {
        // The scope keeps the temporaries alive until the values are read, then frees them.
        using var scope = NewDisposeScope();
        var values = t.detach().contiguous().cpu().data<float>().ToArray();
        foreach (float v in values) file.Write(v);
    }
}
