using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using System.Diagnostics;
using FiRST.Runtime;
using FiRST.Runtime.Routing;
using FiRST.Training.LayerSkip;
using FiRST.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace FiRST.Training.Routers;

/// <summary>Settings of one router training run.</summary>
public sealed record RouterTrainingOptions
{
    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 400;
    /// <summary>Sequences per step.</summary>
    public int Batch { get; init; } = 32;
    /// <summary>Adam learning rate of the routers.</summary>
    public double LearningRate { get; init; } = 1e-2;
    /// <summary>Weight of the layer-use penalty, <c>lambda · mean_l p_l</c>.</summary>
    public double Lambda { get; init; } = 0.01;
    /// <summary>Share of the steps after which gates are hard (0/1, straight-through), as at inference; 1 never.</summary>
    public double HardFrom { get; init; } = 0.6;
    /// <summary>Skip threshold used by hard gating (and at inference).</summary>
    public float Threshold { get; init; } = 0.5f;
    /// <summary>Initial router bias: every layer starts on with p = sigmoid(bias).</summary>
    public float InitialBias { get; init; } = 2f;
    /// <summary>Rank of LoRA adapters trained jointly with the routers; 0 trains none.</summary>
    public int LoraRank { get; init; }
    /// <summary>Adam learning rate of the adapters.</summary>
    public double LoraLearningRate { get; init; } = 1e-3;
    /// <summary>Seed of router weights and batches.</summary>
    public int Seed { get; init; } = 7;
    /// <summary>How the hard phase turns task loss into router gradients.</summary>
    public RouterGradient Gradient { get; init; } = RouterGradient.StraightThrough;
}

/// <summary>The router gradient of the hard-gated phase.</summary>
public enum RouterGradient
{
    /// <summary>
    /// The loss's slope in each gate at its hard value, passed straight through to <c>p_l</c>: one forward and
    /// backward pass per step, but a slope at gate = 1 can say "a little less of this layer" for a layer whose
    /// removal costs everything (on shallow models the routers then switch layer 0 off and cannot recover).
    /// </summary>
    StraightThrough,
    /// <summary>
    /// What each decision costs, measured: per sample, the loss with layer l's decision flipped minus the loss as
    /// routed, for every layer (one extra forward pass per layer, no backward pass through the model). The
    /// surrogate <c>sum_l p_l · (loss with l on − loss with l off)</c> pushes <c>p_l</c> up exactly where the layer
    /// helps that sample. Routers only: no LoRA.
    /// </summary>
    Counterfactual,
}

/// <summary>What a router training run ended with.</summary>
/// <param name="Routers">The trained routers.</param>
/// <param name="FinalLoss">Smoothed task (or KL) loss at the end, without the penalty.</param>
/// <param name="MeanP">Mean pooled router output at the end, smoothed.</param>
/// <param name="Seconds">Wall time.</param>
/// <param name="Adapter">The LoRA adapters trained with the routers, if any.</param>
public sealed record RouterTrainingResult(RouterSet Routers, double FinalLoss, double MeanP, double Seconds, Runtime.Adapters.LoraAdapter? Adapter = null);

/// <summary>
/// Trains FiRST routers on a frozen model (TorchSharp): the soft-gated forward pass of
/// <see cref="GatedForward"/>, loss = task cross-entropy on answers (or KL from the full model) +
/// <c>lambda · mean_l p_l</c>, hard straight-through gates for the last part of training so that training
/// and inference agree.
/// </summary>
public static class RouterTraining
{
    /// <summary>
    /// Trains routers for <paramref name="model"/> (float32 weights, every layer loaded).
    /// <paramref name="cancellationToken"/> stops it before the next optimizer step (<see cref="RunCancelledException"/>
    /// says after how many steps); nothing is returned then, so nothing half-trained is saved.
    /// </summary>
    public static RouterTrainingResult Run(LlamaModel model, RouterData data, RouterTrainingOptions o, Action<PassProgress>? progress = null,
                                           CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (o.Steps < 1 || o.Batch < 1) throw new ArgumentException("steps and batch must be at least 1");
        if (!(o.Lambda >= 0)) throw new ArgumentException($"lambda must be >= 0, got {o.Lambda}");
        if (o.Gradient == RouterGradient.Counterfactual && o.LoraRank > 0)
            throw new ArgumentException("counterfactual router gradients train routers only: drop the LoRA rank or use straight-through gradients");
        TorchRuntime.Check();
        torch.manual_seed(o.Seed);
        torch.set_num_threads(Environment.ProcessorCount);
        var config = model.Config;
        using var llama = new TorchLlama(config);
        llama.LoadFrom(model);
        // The base model is frozen: only the routers learn.
        foreach (var p in llama.parameters()) p.requires_grad = false;
        llama.eval();
        using var routers = new TorchRouters(config.NLayers, config.Dim, config.NormEps, o.InitialBias);
        using var lora = o.LoraRank > 0 ? new TorchLora(config, o.LoraRank, alpha: o.LoraRank) : null;
        var optimizer = optim.Adam(routers.parameters(), lr: o.LearningRate);
        var loraOptimizer = lora is null ? null : optim.Adam(lora.parameters(), lr: o.LoraLearningRate);
        var rng = new Random(o.Seed);
        var clock = Stopwatch.StartNew();
        double loss = double.NaN, meanP = double.NaN;
        int hardFrom = (int)Math.Round(o.HardFrom * o.Steps);

        for (int step = 0; step < o.Steps; step++)
        {
            RunCancelledException.ThrowIfCancelled(cancellationToken, step, o.Steps, "steps");
            using var scope = NewDisposeScope();
            var batch = data.Draw(rng, o.Batch);
            Tensor taskLoss, usage;
            if (step >= hardFrom && o.Gradient == RouterGradient.Counterfactual)
            {
                (taskLoss, usage) = CounterfactualStep(llama, routers, data, batch, o, optimizer);
            }
            else
            {
                var (logits, pooled) = GatedForward.Run(llama, routers, batch.Tokens, batch.PromptMask, hard: step >= hardFrom, o.Threshold, lora);
                taskLoss = data.TaskLoss
                    ? EarlyExitLoss.MaskedCrossEntropy(logits, batch.Targets, batch.AnswerMask)
                    : Kl(llama, batch.Tokens, logits, batch.AnswerMask);
                usage = pooled.mean();
                var total = taskLoss + usage * o.Lambda;
                optimizer.zero_grad();
                loraOptimizer?.zero_grad();
                total.backward();
                optimizer.step();
                loraOptimizer?.step();
            }
            double l = taskLoss.item<float>(), u = usage.item<float>();
            loss = double.IsNaN(loss) ? l : 0.95 * loss + 0.05 * l;
            meanP = double.IsNaN(meanP) ? u : 0.95 * meanP + 0.05 * u;
            if (progress is not null)
            {
                // Every step moves the bar; every 25th is also a line of the log.
                string? line = StepLog.Eta(clock, step, o.Steps, every: 25) is { } eta
                    ? $"lambda {o.Lambda:G3} step {step + 1,4}/{o.Steps}  {(data.TaskLoss ? "ce" : "kl")} {loss:F4}  mean p {meanP:F3}  {(step >= hardFrom ? "hard" : "soft")}  ETA {eta:mm\\:ss}"
                    : null;
                progress(new PassProgress($"lambda {o.Lambda:G3}", step + 1, o.Steps) { Loss = loss, Line = line });
            }
        }
        return new RouterTrainingResult(routers.ToRouterSet(), loss, meanP, clock.Elapsed.TotalSeconds, lora?.ToAdapter());
    }

    /// <summary>
    /// One hard-phase step with <see cref="RouterGradient.Counterfactual"/> gradients; returns the routed task
    /// loss and the mean router output.
    /// </summary>
    private static (Tensor TaskLoss, Tensor Usage) CounterfactualStep(TorchLlama llama, TorchRouters routers, RouterData data, Tasks.TaskBatch batch,
                                                                      RouterTrainingOptions o, optim.Optimizer optimizer)
    {
        Tensor? full = null;
        if (!data.TaskLoss)
            using (no_grad()) full = nn.functional.log_softmax(llama.forward(batch.Tokens), -1);
        Tensor PerSample(Tensor logits) => data.TaskLoss
            ? PerSampleCrossEntropy(logits, batch.Targets, batch.AnswerMask)
            : PerSampleKl(full!, logits, batch.AnswerMask);

        var (routedLogits, p, gates) = GatedForward.RunHard(llama, routers, batch.Tokens, batch.PromptMask, o.Threshold);
        var routed = PerSample(routedLogits).detach();
        var costs = new List<Tensor>();
        using (no_grad())
        {
            for (int l = 0; l < routers.Layers; l++)
            {
                var flipped = PerSample(GatedForward.RunHard(llama, routers, batch.Tokens, batch.PromptMask, o.Threshold, flip: l).Logits);
                // Loss with the layer on minus loss with it off, whichever of the two the routers chose.
                var on = gates[.., l];
                costs.Add(on * (routed - flipped) + (1 - on) * (flipped - routed));
            }
        }
        var usage = p.mean();
        var surrogate = (p * stack(costs, 1)).sum(1).mean() + usage * o.Lambda;
        optimizer.zero_grad();
        surrogate.backward();
        optimizer.step();
        return (routed.mean(), usage);
    }

    /// <summary>Masked cross-entropy per sample <c>[batch]</c>.</summary>
    private static Tensor PerSampleCrossEntropy(Tensor logits, Tensor targets, Tensor mask)
    {
        long vocab = logits.shape[^1];
        var perToken = nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), reduction: nn.Reduction.None).view(targets.shape);
        var m = mask.to_type(perToken.dtype);
        return (perToken * m).sum(1) / m.sum(1).clamp_min(1);
    }

    /// <summary>KL(full ‖ gated) per sample <c>[batch]</c>, averaged over the positions <paramref name="mask"/> marks.</summary>
    private static Tensor PerSampleKl(Tensor fullLogProbs, Tensor gatedLogits, Tensor mask) =>
        (KlPerPosition(fullLogProbs, gatedLogits) * mask).sum(1) / mask.sum(1).clamp_min(1);

    /// <summary>KL(full ‖ gated) per position, averaged over the positions <paramref name="mask"/> marks.</summary>
    private static Tensor Kl(TorchLlama llama, Tensor tokens, Tensor gatedLogits, Tensor mask)
    {
        Tensor full;
        using (no_grad()) full = nn.functional.log_softmax(llama.forward(tokens), -1);
        return (KlPerPosition(full, gatedLogits) * mask).sum() / mask.sum().clamp_min(1);
    }

    /// <summary>KL(full ‖ gated) at each position <c>[batch, time]</c>, from the full model's log-probabilities.</summary>
    private static Tensor KlPerPosition(Tensor fullLogProbs, Tensor gatedLogits)
    {
        var gated = nn.functional.log_softmax(gatedLogits, -1);
        return (fullLogProbs.exp() * (fullLogProbs - gated)).sum(-1);
    }
}
