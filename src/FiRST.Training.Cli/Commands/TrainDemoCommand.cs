using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using System.CommandLine;
using FiRST.Cli.Reporting;
using FiRST.Training.Demo;

namespace FiRST.Cli.Commands;

/// <summary><c>first-train train-demo</c>: trains the embedded default model from scratch (TorchSharp, CPU).</summary>
internal static class TrainDemoCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => new DemoTrainingOptions().Steps };
        var outDir = new Option<string>("--out") { Description = "Output folder (model.bin, tokenizer.bin, training.json)", DefaultValueFactory = _ => "demo-model" };
        var seed = new Option<int>("--seed") { Description = "Seed of weights, data and dropout", DefaultValueFactory = _ => new DemoTrainingOptions().Seed };
        var mix = new Option<string>("--mix") { Description = "Task weights in the batches, name=weight,...", DefaultValueFactory = _ => new DemoTrainingOptions().TaskWeights };
        var defaults = new DemoTrainingOptions();
        var dropout = new Option<float>("--layer-dropout") { Description = "LayerSkip's largest layer-dropout rate", DefaultValueFactory = _ => defaults.MaxLayerDropout };
        var exitScale = new Option<float>("--exit-scale") { Description = "LayerSkip's early-exit loss scale (1 = depth weights only)", DefaultValueFactory = _ => defaults.EarlyExitScale };
        var exitPeriod = new Option<int>("--exit-period") { Description = "Rotational early-exit period", DefaultValueFactory = _ => defaults.ExitPeriod };
        var batch = new Option<int>("--batch") { Description = "Examples per step", DefaultValueFactory = _ => defaults.Batch };
        var learningRate = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var lrFloor = new Option<double>("--lr-floor") { Description = "Fraction of the peak learning rate the cosine decay ends at", DefaultValueFactory = _ => defaults.LearningRateFloor };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay", DefaultValueFactory = _ => defaults.WeightDecay };
        var dim = new Option<int>("--dim") { Description = "Model width", DefaultValueFactory = _ => defaults.Dim };
        var hidden = new Option<int>("--hidden") { Description = "Feed-forward width", DefaultValueFactory = _ => defaults.HiddenDim };
        var layers = new Option<int>("--layers") { Description = "Layers", DefaultValueFactory = _ => defaults.Layers };
        var heads = new Option<int>("--heads") { Description = "Query heads", DefaultValueFactory = _ => defaults.Heads };
        var kvHeads = new Option<int>("--kv-heads") { Description = "Key/value heads", DefaultValueFactory = _ => defaults.KvHeads };
        var ema = new Option<double>("--ema") { Description = "Decay of the weights' moving average written as model.bin (0: the last step's weights)", DefaultValueFactory = _ => defaults.EmaDecay };
        var context = new Option<int>("--context") { Description = "Context length (the longest training example must fit)", DefaultValueFactory = _ => defaults.MaxSeqLen };
        var command = new Command("train-demo", "Train the embedded demo model on the procedural tasks with the LayerSkip recipe")
            { steps, outDir, seed, mix, dropout, exitScale, exitPeriod, batch, learningRate, lrFloor, weightDecay, dim, hidden, layers, heads, kvHeads, context, ema };
        command.SetAction((parse, ct) =>
        {
            int n = parse.GetValue(steps);
            if (n < 1) throw new ArgumentException($"--steps must be at least 1, got {n}");
            var options = new DemoTrainingOptions { Steps = n, Seed = parse.GetValue(seed), TaskWeights = parse.GetValue(mix)!,
                MaxLayerDropout = parse.GetValue(dropout), EarlyExitScale = parse.GetValue(exitScale), ExitPeriod = parse.GetValue(exitPeriod),
                Batch = parse.GetValue(batch), LearningRate = parse.GetValue(learningRate), LearningRateFloor = parse.GetValue(lrFloor), WeightDecay = parse.GetValue(weightDecay), Dim = parse.GetValue(dim), HiddenDim = parse.GetValue(hidden),
                Layers = parse.GetValue(layers), Heads = parse.GetValue(heads), KvHeads = parse.GetValue(kvHeads), MaxSeqLen = parse.GetValue(context), EmaDecay = parse.GetValue(ema) };
            if (!(options.MaxLayerDropout is >= 0 and < 1)) throw new ArgumentException($"--layer-dropout must be within [0, 1), got {options.MaxLayerDropout}");
            if (!(options.EarlyExitScale is >= 0 and <= 1)) throw new ArgumentException($"--exit-scale must be within [0, 1], got {options.EarlyExitScale}");
            if (options.ExitPeriod < 1) throw new ArgumentException($"--exit-period must be at least 1, got {options.ExitPeriod}");
            if (!(options.EmaDecay is >= 0 and < 1)) throw new ArgumentException($"--ema must be within [0, 1), got {options.EmaDecay}");
            if (!(options.LearningRateFloor is >= 0 and <= 1)) throw new ArgumentException($"--lr-floor must be within [0, 1], got {options.LearningRateFloor}");
            if (!(options.WeightDecay is >= 0 and < 1)) throw new ArgumentException($"--weight-decay must be within [0, 1), got {options.WeightDecay}");
            if (options.Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {options.Batch}");
            if (!(options.LearningRate > 0) || double.IsInfinity(options.LearningRate)) throw new ArgumentException($"--lr must be a positive number, got {options.LearningRate}");
            if (options.Dim < 1 || options.HiddenDim < 1 || options.Layers < 1 || options.Heads < 1 || options.KvHeads < 1)
                throw new ArgumentException("--dim, --hidden, --layers, --heads and --kv-heads must be at least 1");
            if (options.Dim % options.Heads != 0 || options.Heads % options.KvHeads != 0 || options.Dim / options.Heads % 2 != 0)
                throw new ArgumentException($"--heads {options.Heads} must divide --dim {options.Dim} into even head sizes, and --kv-heads {options.KvHeads} must divide --heads");
            // Examples longer than the context are redrawn, so a short one would silently leave sort's longest lists
            // (ten two-digit numbers: 68 positions) out of training.
            if (options.MaxSeqLen < 68 && TaskMix.Parse(options.TaskWeights).Tasks.Any(t => t.Name == "sort"))
                throw new ArgumentException($"--context must be at least 68 to hold sort's longest example, got {options.MaxSeqLen}");
            string dir = parse.GetValue(outDir)!;
            try
            {
                ProgressReporter.For(error).Run(report => DemoTraining.Run(options, dir, report, ct));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Outside Run, so below the bar. Only the tokenizer was written: a half-trained model.bin would
                // pass for the trained one.
                CliErrors.NotWritten(error, Path.Combine(dir, "model.bin"), Path.Combine(dir, "training.json"));
                throw;
            }
            output.WriteLine($"wrote {Path.Combine(dir, "model.bin")}, tokenizer.bin and training.json");
            return Task.FromResult(0);
        });
        return command;
    }
}
