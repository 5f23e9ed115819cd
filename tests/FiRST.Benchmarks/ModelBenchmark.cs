using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FiRST.Runtime;

namespace FiRST.Benchmarks;

/// <summary>
/// What the per-model benchmarks share: the model and thread-count parameters, a loaded model with one
/// session, and a seeded random prompt of <see cref="PromptLength"/> tokens.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ModelBandwidthConfig))]
public abstract class ModelBenchmark
{
    /// <summary>The loaded model's session.</summary>
    protected InferenceSession Session { get; private set; } = null!;

    /// <summary>The prompt every iteration uses.</summary>
    protected int[] Prompt { get; private set; } = [];

    private LlamaModel? _model;

    /// <summary>Tokens in <see cref="Prompt"/>.</summary>
    protected abstract int PromptLength { get; }

    /// <summary>Which model: <c>stories260K</c>, <c>15M</c> or <c>110M</c> (see <see cref="BenchmarkModels"/>).</summary>
    [ParamsSource(nameof(Models), Priority = -1)] // the model column first in the summary
    public string Model { get; set; } = "";

    /// <summary>Threads each matrix product is split over.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>The models whose files are (or can be made) available.</summary>
    public static IEnumerable<string> Models() => BenchmarkModels.Available();

    [GlobalSetup]
    public void Setup()
    {
        _model = LlamaModel.Load(BenchmarkModels.Ensure(Model));
        Session = _model.CreateSession(new SessionOptions { Threads = Threads });
        Prompt = BenchmarkModels.RandomTokens(PromptLength, _model.Config.VocabSize);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Session?.Dispose();
        _model?.Dispose();
    }
}

/// <summary>Adds the achieved weight bandwidth of a forward step (every weight is read once per token).</summary>
internal sealed class ModelBandwidthConfig : ManualConfig
{
    public ModelBandwidthConfig() =>
        AddColumn(new BandwidthColumn(c => c.Parameters["Model"] is string model ? BenchmarkModels.WeightBytesPerToken(model) : null));
}
