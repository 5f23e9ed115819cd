using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using System.Diagnostics;
using System.Text.Json;
using FiRST.Runtime;
using FiRST.Runtime.Tokenization;
using FiRST.Training.LayerSkip;
using FiRST.Training.Model;
using FiRST.Training.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace FiRST.Training.Demo;

/// <summary>Settings of the embedded model's training run (written beside the weights).</summary>
public sealed record DemoTrainingOptions
{
    /// <summary>Optimizer steps (the committed model's 9,600 took 27.8 minutes, run alone on the project's 2-vCPU machine).</summary>
    public int Steps { get; init; } = 9600;
    /// <summary>Examples per step, packed several to a row of <see cref="MaxSeqLen"/> positions.</summary>
    public int Batch { get; init; } = 64;
    /// <summary>Peak learning rate (AdamW), after a linear warm-up, cosine-decayed to <see cref="LearningRateFloor"/> of it.</summary>
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>The fraction of <see cref="LearningRate"/> the cosine decays to by the end of training (0: to zero; 0.1: a tenth).</summary>
    public double LearningRateFloor { get; init; } = 0;
    /// <summary>Warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 200;
    /// <summary>AdamW weight decay (0.1: with 0.01 and the schedule ending at a tenth, addition stayed near 98.6%).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>LayerSkip's largest layer-dropout rate (the last layer's).</summary>
    public float MaxLayerDropout { get; init; } = 0.1f;
    /// <summary>LayerSkip's rotational early-exit period.</summary>
    public int ExitPeriod { get; init; } = 2;
    /// <summary>LayerSkip's early-exit scale: early exits' loss weights are multiplied by it (1 = plain depth weights).</summary>
    public float EarlyExitScale { get; init; } = 0.1f;
    /// <summary>
    /// Largest decay of the moving average of the weights that <c>model.bin</c> holds (0, the default: the last
    /// step's weights). Step <c>s</c> uses <c>min(EmaDecay, (1 + s) / (10 + s))</c>, which stays under 0.999 until
    /// step 8,990: over 7,400 steps the ramp alone sets it, and the last 10% of the steps carry 61% of the
    /// average's weight, the last 20% 87%. With the schedule ending at a tenth of the peak the average scored
    /// higher than the last step; ending at zero the two score alike (the schedule's end does the smoothing), so
    /// the committed model is the last step. With an average the last step's weights are written beside it as
    /// <c>model.last-step.bin</c>.
    /// </summary>
    public double EmaDecay { get; init; } = 0;
    /// <summary>Seed of weights, data and dropout.</summary>
    public int Seed { get; init; } = 7;
    /// <summary>
    /// Relative share of each task in the batches, as <c>name=weight</c> pairs (any built-in task, e.g.
    /// <c>recall</c>). The defaults reproduce the committed model.
    /// </summary>
    public string TaskWeights { get; init; } = "copy=1,reverse=1.25,sort=3,add4=7";
    /// <summary>Model width.</summary>
    public int Dim { get; init; } = 128;
    /// <summary>
    /// Feed-forward width. 256, not 384: a step is about 1.2x faster (the feed-forward blocks were two thirds of
    /// a layer's multiplications), and trained on addition alone for 2,000 steps 256 got 37% of held-out sums
    /// right against 384's 19%. Copying texts of runs (0123456789abcdef) needed the runs in the training data
    /// (<see cref="FiRST.Evaluation.Tasks.TaskText.DrawRuns"/>) at this width.
    /// </summary>
    public int HiddenDim { get; init; } = 256;
    /// <summary>Layers.</summary>
    public int Layers { get; init; } = 8;
    /// <summary>
    /// Query heads. Eight of 16 dimensions, not four of 32: trained on addition alone for 2,000 steps, 4 heads
    /// got 28% of four-digit sums right, 8 heads 72% (16 heads 54%, 8 with 8 key/value heads 59%).
    /// </summary>
    public int Heads { get; init; } = 8;
    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; init; } = 4;
    /// <summary>Context length: the longest example, ten two-digit numbers to sort, takes 68 positions.</summary>
    public int MaxSeqLen { get; init; } = 72;
}

/// <summary>
/// Trains the embedded default model from scratch on the procedural tasks with the LayerSkip recipe (layer
/// dropout rising with depth, early-exit loss with a rotational curriculum), then writes
/// <c>model.bin</c> (llama2.c format), <c>tokenizer.bin</c> and <c>training.json</c>.
/// </summary>
public static class DemoTraining
{
    /// <summary>
    /// Trains and saves into <paramref name="outDir"/>; <paramref name="progress"/> gets every step, with a log line every 50.
    /// The same options give the same bytes as long as no other libtorch work runs in the process meanwhile:
    /// the seed sets libtorch's process-wide generator, which initialises the weights.
    /// <paramref name="cancellationToken"/> stops it before the next optimizer step, before <c>model.bin</c> and
    /// <c>training.json</c> are written (<see cref="RunCancelledException"/> says after how many steps).
    /// </summary>
    public static void Run(DemoTrainingOptions o, string outDir, Action<PassProgress> progress, CancellationToken cancellationToken = default)
    {
        TorchRuntime.Check();
        Directory.CreateDirectory(outDir);
        string tokenizerPath = Path.Combine(outDir, "tokenizer.bin");
        CharTokenizerFile.Write(tokenizerPath);
        var tokenizer = TextTokenizer.Load(tokenizerPath);

        torch.manual_seed(o.Seed);
        torch.set_num_threads(Environment.ProcessorCount);
        var config = new ModelConfig
        {
            Dim = o.Dim, HiddenDim = o.HiddenDim, NLayers = o.Layers, NHeads = o.Heads, NKvHeads = o.KvHeads,
            VocabSize = tokenizer.VocabSize, MaxSeqLen = o.MaxSeqLen,
        };
        using var model = new TorchLlama(config);
        Initialise(model, o.Layers);
        // AdamW's decay defaults to 0 in TorchSharp: set it.
        var optimizer = optim.AdamW(model.parameters(), lr: o.LearningRate, weight_decay: o.WeightDecay);
        var dropout = new LayerDropoutSchedule(o.MaxLayerDropout);
        var exits = new ExitCurriculum.Rotational(o.ExitPeriod);
        var data = new Random(o.Seed);
        var mix = TaskMix.Parse(o.TaskWeights);
        var generator = new Generator().manual_seed(o.Seed);
        var parameters = model.parameters().ToArray();
        // The average lives for the whole run: its tensors belong to this scope, not to a step's, and are freed
        // with it also when the run is cancelled.
        using var run = NewDisposeScope();
        var average = o.EmaDecay > 0 ? parameters.Select(p => p.detach().clone()).ToArray() : null;
        var clock = Stopwatch.StartNew();
        long tokensSeen = 0;
        double smoothed = double.NaN;

        for (int step = 0; step < o.Steps; step++)
        {
            RunCancelledException.ThrowIfCancelled(cancellationToken, step, o.Steps, "steps");
            using var scope = NewDisposeScope();
            double lr = LearningRate(o, step);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            var (tokens, targets, mask, attention) = PackedBatch.Draw(tokenizer, data, mix, o.Batch, o.MaxSeqLen);
            tokensSeen += tokens.shape[0] * tokens.shape[1];
            var loss = EarlyExitLoss.Compute(model, tokens, targets, mask, exits.Exits(o.Layers, step, o.Steps), dropout, step, o.Steps, generator, o.EarlyExitScale, attention);
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            if (average is not null) Accumulate(average, parameters, o.EmaDecay, step);
            double value = loss.item<float>();
            smoothed = double.IsNaN(smoothed) ? value : 0.98 * smoothed + 0.02 * value;
            // Every step moves the bar; every 50th is also a line of the log.
            string? line = StepLog.Eta(clock, step, o.Steps, every: 50) is { } eta
                ? $"step {step + 1,5}/{o.Steps}  loss {smoothed:F4}  lr {lr:E2}  {tokensSeen / clock.Elapsed.TotalSeconds,8:F0} tok/s  ETA {eta:mm\\:ss}"
                : null;
            progress(new PassProgress("training", step + 1, o.Steps) { Loss = smoothed, Line = line });
        }

        model.eval();
        if (average is not null)
        {
            model.SaveLlama2c(Path.Combine(outDir, "model.last-step.bin"));
            using var _ = no_grad();
            for (int i = 0; i < parameters.Length; i++) parameters[i].copy_(average[i]);
        }
        model.SaveLlama2c(Path.Combine(outDir, "model.bin"));
        File.WriteAllText(Path.Combine(outDir, "training.json"), JsonSerializer.Serialize(new
        {
            recipe = "LayerSkip: layer dropout p(l) = p_max (exp(l ln2 / (L-1)) - 1), early-exit loss with rotational curriculum",
            options = o,
            tasks = mix.Tasks.Select(t => t.Name),
            seconds = Math.Round(clock.Elapsed.TotalSeconds),
        }, new JsonSerializerOptions { WriteIndented = true }));
    }

    // average = d * average + (1 - d) * weights, with d ramped up (as in TensorFlow's ExponentialMovingAverage
    // with num_updates) so the random initial weights are forgotten quickly.
    private static void Accumulate(Tensor[] average, Tensor[] parameters, double decay, int step)
    {
        using var _ = no_grad();
        double d = Math.Min(decay, (1.0 + step) / (10.0 + step));
        for (int i = 0; i < average.Length; i++)
            average[i].mul_(d).add_(parameters[i], alpha: 1 - d);
    }

    /// <summary>The learning rate of step <paramref name="step"/> (from 0): linear warm-up, then a cosine to <see cref="DemoTrainingOptions.LearningRateFloor"/> of the peak.</summary>
    internal static double LearningRate(DemoTrainingOptions o, int step)
    {
        if (step < o.WarmupSteps) return o.LearningRate * (step + 1) / o.WarmupSteps;
        double progress = (double)(step - o.WarmupSteps) / Math.Max(1, o.Steps - o.WarmupSteps);
        double floor = o.LearningRateFloor;
        return o.LearningRate * (floor + (1 - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    private static void Initialise(TorchLlama model, int layers)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.dim() != 2) continue;
            // Projections into the residual stream start smaller, so the stream grows slowly with depth.
            double std = name.EndsWith("Wo") || name.EndsWith("W2") ? 0.02 / Math.Sqrt(2 * layers) : 0.02;
            p.normal_(0, std);
        }
    }
}
