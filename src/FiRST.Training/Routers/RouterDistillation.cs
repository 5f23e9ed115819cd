using System.Diagnostics;
using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace FiRST.Training.Routers;

/// <summary>What a distillation run ended with.</summary>
/// <param name="Routers">The trained routers.</param>
/// <param name="FinalLoss">Smoothed binary cross-entropy at the end.</param>
/// <param name="Matched">Smoothed share of the training prompts whose hard-gated mask equals their task's.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record RouterDistillationResult(RouterSet Routers, double FinalLoss, double Matched, double Seconds);

/// <summary>
/// Routers that reproduce calibrated masks. Calibration can choose a task's mask by measuring masks
/// (<c>first calibrate --mask-search elimination</c>), and then the routers trained for a layer-use penalty no
/// longer route that task's prompts to it: on the embedded model they give sort and addition prompts copy's mask.
/// Here each router learns, on a frozen model, to keep its layer exactly for the tasks whose mask keeps it:
/// binary cross-entropy between the pooled <c>p_l</c> and the task's mask, with the mask's layers run, so each
/// router sees the hidden state it will see at inference when the routers before it decide as the mask does.
/// The prompts are the tasks' training prompts; each step draws the tasks uniformly.
/// </summary>
public static class RouterDistillation
{
    /// <summary>
    /// Trains routers for <paramref name="model"/> (float32, every layer loaded) to route each task of
    /// <paramref name="targets"/> to its mask; uses <see cref="RouterTrainingOptions.Steps"/>,
    /// <see cref="RouterTrainingOptions.Batch"/> (prompts per step), <see cref="RouterTrainingOptions.LearningRate"/>,
    /// <see cref="RouterTrainingOptions.InitialBias"/>, <see cref="RouterTrainingOptions.Threshold"/> (for the
    /// reported match) and <see cref="RouterTrainingOptions.Seed"/>.
    /// </summary>
    public static RouterDistillationResult Run(LlamaModel model, TextTokenizer tokenizer, IReadOnlyList<(TaskGenerator Task, LayerMask Mask)> targets,
                                           RouterTrainingOptions o, Action<PassProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (targets.Count == 0) throw new ArgumentException("distillation needs at least one task and its mask");
        if (o.Steps < 1 || o.Batch < 1) throw new ArgumentException("steps and batch must be at least 1");
        int layers = model.Config.NLayers;
        foreach (var (task, mask) in targets)
            if (mask.LayerCount != layers) throw new ArgumentException($"task '{task.Name}': a mask of {mask.LayerCount} layers for a model of {layers}");
        TorchRuntime.Check();
        torch.manual_seed(o.Seed);
        torch.set_num_threads(Environment.ProcessorCount);
        using var llama = new TorchLlama(model.Config);
        llama.LoadFrom(model);
        foreach (var p in llama.parameters()) p.requires_grad = false;
        llama.eval();
        using var routers = new TorchRouters(layers, model.Config.Dim, model.Config.NormEps, o.InitialBias);
        var optimizer = optim.Adam(routers.parameters(), lr: o.LearningRate);
        var rng = new Random(o.Seed);
        var clock = Stopwatch.StartNew();
        double loss = double.NaN, matched = double.NaN;
        using var threshold = o.Threshold.ToScalar();

        for (int step = 0; step < o.Steps; step++)
        {
            RunCancelledException.ThrowIfCancelled(cancellationToken, step, o.Steps, "steps");
            using var scope = NewDisposeScope();
            var (tokens, promptMask, gates) = Draw(tokenizer, targets, rng, o.Batch, model.Config.MaxSeqLen, layers);
            var p = GatedForward.RunForced(llama, routers, tokens, promptMask, gates);
            var bce = nn.functional.binary_cross_entropy(p, gates);
            optimizer.zero_grad();
            bce.backward();
            optimizer.step();
            double l = bce.item<float>();
            double m = p.detach().ge(threshold).to_type(gates.dtype).eq(gates).all(1).to_type(ScalarType.Float32).mean().item<float>();
            loss = double.IsNaN(loss) ? l : 0.95 * loss + 0.05 * l;
            matched = double.IsNaN(matched) ? m : 0.95 * matched + 0.05 * m;
            string? line = StepLog.Eta(clock, step, o.Steps, every: 25) is { } eta
                ? $"profile masks step {step + 1,4}/{o.Steps}  bce {loss:F4}  routed to their task's mask {matched:P1}  ETA {eta:mm\\:ss}"
                : null;
            progress?.Invoke(new PassProgress("profile masks", step + 1, o.Steps) { Loss = loss, Line = line });
        }
        return new RouterDistillationResult(routers.ToRouterSet(), loss, matched, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// <paramref name="batch"/> prompts (BOS first, padded) of uniformly drawn tasks, their prompt mask, and each
    /// prompt's task mask as 0/1 gates <c>[batch, layers]</c>.
    /// </summary>
    private static (Tensor Tokens, Tensor PromptMask, Tensor Gates) Draw(TextTokenizer tokenizer, IReadOnlyList<(TaskGenerator Task, LayerMask Mask)> targets,
                                                                         Random rng, int batch, int maxLen, int layers)
    {
        var prompts = new List<int[]>(batch);
        var gates = new float[batch * layers];
        while (prompts.Count < batch)
        {
            var (task, mask) = targets[rng.Next(targets.Count)];
            int[] ids = tokenizer.Encode(task.TrainingSample(rng).Prompt);
            if (ids.Length > maxLen) continue;
            for (int l = 0; l < layers; l++) gates[prompts.Count * layers + l] = mask.IsKept(l) ? 1 : 0;
            prompts.Add(ids);
        }
        int time = prompts.Max(p => p.Length);
        var tokens = new long[batch * time];
        var promptMask = new float[batch * time];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < prompts[b].Length; t++)
            {
                tokens[b * time + t] = prompts[b][t];
                promptMask[b * time + t] = 1;
            }
        return (tensor(tokens).reshape(batch, time), tensor(promptMask).reshape(batch, time), tensor(gates).reshape(batch, layers));
    }
}
