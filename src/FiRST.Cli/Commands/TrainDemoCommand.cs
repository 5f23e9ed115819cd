using System.CommandLine;
using FiRST.Training.Demo;

namespace FiRST.Cli.Commands;

/// <summary><c>first train-demo</c>: trains the embedded default model from scratch (TorchSharp, CPU).</summary>
internal static class TrainDemoCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => new DemoTrainingOptions().Steps };
        var outDir = new Option<string>("--out") { Description = "Output folder (model.bin, tokenizer.bin, training.json)", DefaultValueFactory = _ => "demo-model" };
        var seed = new Option<int>("--seed") { Description = "Seed of weights, data and dropout", DefaultValueFactory = _ => new DemoTrainingOptions().Seed };
        var mix = new Option<string>("--mix") { Description = "Task weights in the batches, name=weight,...", DefaultValueFactory = _ => new DemoTrainingOptions().TaskWeights };
        var command = new Command("train-demo", "Train the embedded demo model on the procedural tasks with the LayerSkip recipe") { steps, outDir, seed, mix };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(steps);
            if (n < 1) throw new ArgumentException($"--steps must be at least 1, got {n}");
            var options = new DemoTrainingOptions { Steps = n, Seed = parse.GetValue(seed), TaskWeights = parse.GetValue(mix)! };
            string dir = parse.GetValue(outDir)!;
            DemoTraining.Run(options, dir, line => error.WriteLine(line));
            output.WriteLine($"wrote {Path.Combine(dir, "model.bin")}, tokenizer.bin and training.json");
            return 0;
        });
        return command;
    }
}
