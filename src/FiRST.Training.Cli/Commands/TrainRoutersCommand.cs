using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using System.CommandLine;
using FiRST.Cli.Reporting;
using System.Globalization;
using System.Text;
using FiRST.Runtime;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Demo;
using FiRST.Training.Routers;
using FiRST.Training.Tasks;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first-train train-routers</c>: trains FiRST routers on a frozen model (TorchSharp), on task data or data-free
/// on the model's own samples, for one or several penalty weights, and reports quality against layers skipped.
/// </summary>
internal static class TrainRoutersCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = CommonOptions.ModelOrDefault();
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer (default: beside the model)" };
        var tasks = new Option<string?>("--tasks") { Description = "Task data: comma-separated built-in tasks or a JSONL task file (default for the embedded model: all built-in tasks)" };
        var selfGenerated = new Option<bool>("--self-generated") { Description = "Data-free: train on the model's own samples with KL to the full model" };
        var lambdas = new Option<string>("--lambda") { Description = "Layer-use penalty; a comma-separated list runs a sweep", DefaultValueFactory = _ => "0.01" };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps per run", DefaultValueFactory = _ => new RouterTrainingOptions().Steps };
        var batch = new Option<int>("--batch") { Description = "Sequences per step", DefaultValueFactory = _ => new RouterTrainingOptions().Batch };
        var threshold = CommonOptions.Threshold();
        var outPath = new Option<string>("--out") { Description = "Router file to write (a sweep adds .lambda<value> before the extension)", Required = true };
        var report = new Option<string?>("--report") { Description = "Also write the trade-off table (Markdown) here" };
        var evalPrompts = new Option<int>("--eval-prompts") { Description = "Held-out prompts per task (or sequences) for the report", DefaultValueFactory = _ => 200 };
        var loraRank = new Option<int>("--lora-rank") { Description = "Also train LoRA adapters of this rank on every projection (saved as .lora.bin beside the routers); 0 = none", DefaultValueFactory = _ => 0 };
        var hardFrom = new Option<double>("--hard-from") { Description = "Share of the steps after which gates are hard 0/1 as at inference (0 = from the start, 1 = never)", DefaultValueFactory = _ => new RouterTrainingOptions().HardFrom };
        var learningRate = new Option<double>("--learning-rate") { Description = "Router learning rate (Adam)", DefaultValueFactory = _ => new RouterTrainingOptions().LearningRate };
        var gradient = new Option<string>("--router-gradient") { Description = "Hard-phase router gradient: straight-through, or counterfactual (measures each layer decision's cost; routers only)", DefaultValueFactory = _ => "straight-through" };
        var fromProfile = new Option<string?>("--from-profile") { Description = "Train the routers to route each task of this profile (NAME.first.json, built-in tasks) to its calibrated mask, instead of a layer-use penalty" };
        var samples = new Option<int>("--samples") { Description = "With --self-generated: sequences sampled for training", DefaultValueFactory = _ => 512 };
        var command = new Command("train-routers", "Train FiRST routers on a frozen model; report quality against layers skipped")
        {
            model, tokenizer, tasks, selfGenerated, lambdas, steps, batch, threshold, hardFrom, learningRate, gradient, outPath, report, evalPrompts, samples, loraRank, fromProfile,
        };
        command.SetAction((parse, ct) =>
        {
            string modelPath = parse.GetValue(model)!;
            var lambdaValues = parse.GetValue(lambdas)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && double.IsFinite(v)
                    ? v : throw new ArgumentException($"--lambda '{s}' is not a number >= 0")).ToArray();
            if (lambdaValues.Length == 0) throw new ArgumentException("--lambda names no value");
            int n = parse.GetValue(evalPrompts);
            if (n < 1) throw new ArgumentException($"--eval-prompts must be at least 1, got {n}");
            float thr = parse.GetValue(threshold);
            using var llama = LlamaModel.Load(modelPath);
            int rank = parse.GetValue(loraRank);
            if (rank < 0) throw new ArgumentException($"--lora-rank must be >= 0, got {rank}");
            double hard = parse.GetValue(hardFrom), lr = parse.GetValue(learningRate);
            if (!(hard >= 0 && hard <= 1)) throw new ArgumentException($"--hard-from must be between 0 and 1, got {hard}");
            if (!(lr > 0 && double.IsFinite(lr))) throw new ArgumentException($"--learning-rate must be a positive number, got {lr}");
            string? profilePath = parse.GetValue(fromProfile);
            if (profilePath is not null && (parse.GetResult(lambdas) is { Implicit: false } || parse.GetResult(gradient) is { Implicit: false } || rank > 0
                                            || parse.GetValue(selfGenerated) || parse.GetValue(tasks) is not null))
                throw new ArgumentException("--from-profile trains the routers to the profile's masks on its tasks' prompts: --lambda, --router-gradient, --lora-rank, --tasks and --self-generated do not apply");
            var options = new RouterTrainingOptions
            {
                Steps = parse.GetValue(steps), Batch = parse.GetValue(batch), Threshold = thr, LoraRank = rank, HardFrom = hard, LearningRate = lr,
                Gradient = parse.GetValue(gradient) switch
                {
                    "straight-through" => RouterGradient.StraightThrough,
                    "counterfactual" => RouterGradient.Counterfactual,
                    var g => throw new ArgumentException($"--router-gradient must be straight-through or counterfactual, got '{g}'"),
                },
            };

            // Everything below reports through the bars (or their plain lines): nothing else writes to stderr meanwhile.
            string outFile = parse.GetValue(outPath)!;
            var table = new StringBuilder();
            int saved = 0, rows = 0;
            try
            {
                ProgressReporter.For(error).Run(progress => Train(progress));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Outside Run, so below the bars. Each finished penalty's routers were saved whole and keep their
                // row; the rest are not saved.
                if (rows > 0) output.Write(table.ToString());
                CliErrors.NotWritten(error, [.. lambdaValues.Skip(saved).Select(l => lambdaValues.Length == 1 ? outFile : WithLambda(outFile, l)), parse.GetValue(report)]);
                throw;
            }
            output.Write(table.ToString());
            if (parse.GetValue(report) is { } reportPath) File.WriteAllText(reportPath, table.ToString());
            return Task.FromResult(0);

            // The data, then one penalty after another: train, save the routers (and adapters), add its row to the table.
            void Train(Action<PassProgress> progress)
            {
                if (profilePath is not null)
                {
                    Distill(progress, profilePath);
                    return;
                }
                RouterData data;
                SelfGeneratedRouterData? heldOut = null;
                TextTokenizer? tok = null;
                IReadOnlyList<TaskGenerator> taskList = [];
                if (parse.GetValue(selfGenerated))
                {
                    var bos = 1;
                    int length = Math.Min(96, llama.Config.MaxSeqLen);
                    int prompt = Math.Max(1, length / 3);
                    int count = parse.GetValue(samples);
                    if (count < 1) throw new ArgumentException($"--samples must be at least 1, got {count}");
                    data = SelfGeneratedRouterData.Sample(llama, bos, count, length, prompt, seed: 2024, progress, ct);
                    heldOut = SelfGeneratedRouterData.Sample(llama, bos, n, length, prompt, seed: 4048, cancellationToken: ct);
                }
                else
                {
                    string? taskValue = parse.GetValue(tasks);
                    if (taskValue is null && !CommonOptions.IsDefaultModel(modelPath))
                        throw new ArgumentException("give --tasks (built-in names or a JSONL task file) or --self-generated for a model other than the embedded one");
                    taskList = TaskFile.Resolve(taskValue ?? string.Join(",", TaskGenerator.Standard.Select(t => t.Name)));
                    tok = TextTokenizer.Load(parse.GetValue(tokenizer) ?? CommonOptions.DefaultTokenizer(modelPath));
                    data = new TaskRouterData(tok, TaskMix.Uniform(taskList), llama.Config.MaxSeqLen);
                }
                progress(PassProgress.Note($"training routers on {data.Describe()}"));

                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
                table.AppendLine(heldOut is null
                    ? "| lambda | mean p (train) | layers skipped | " + string.Join(" | ", taskList.Select(t => $"{t.Name} full → routed")) + " | masks |"
                    : "| lambda | mean p (train) | layers skipped | next-token agreement | commonest mask |");
                table.AppendLine("|---:|---:|---:|" + string.Concat(Enumerable.Repeat("---:|", heldOut is null ? taskList.Count + 1 : 2)));
                foreach (double lambda in lambdaValues)
                {
                    var result = RouterTraining.Run(llama, data, options with { Lambda = lambda }, progress, ct);
                    string file = lambdaValues.Length == 1 ? outFile : WithLambda(outFile, lambda);
                    result.Routers.Save(file);
                    saved++;
                    progress(PassProgress.Note($"wrote {file} ({result.Seconds:F0} s)"));
                    // With adapters, quality is measured on the model they are merged into, as it will run.
                    using var adapted = result.Adapter is null ? null : LlamaModel.Load(modelPath, new ModelLoadOptions { Adapter = result.Adapter });
                    if (result.Adapter is not null)
                    {
                        string adapterFile = AdapterPath(file);
                        result.Adapter.Save(adapterFile);
                        progress(PassProgress.Note($"wrote {adapterFile} (rank {rank})"));
                    }
                    var evaluated = adapted ?? llama;
                    string l = lambda.ToString("G3", CultureInfo.InvariantCulture);
                    if (heldOut is not null)
                    {
                        var r = RouterEvaluation.Text(evaluated, result.Routers, thr, heldOut.Sequences, heldOut.PromptLength, ct);
                        table.AppendLine($"| {l} | {result.MeanP:F3} | {r.SkippedShare:P1} | {r.Agreement:P1} | {r.MostCommonMask} |");
                    }
                    else
                    {
                        var rs = RouterEvaluation.Tasks(evaluated, tok!, result.Routers, thr, taskList, n, cancellationToken: ct);
                        table.AppendLine($"| {l} | {result.MeanP:F3} | {rs.Average(r => r.SkippedShare):P1} | "
                            + string.Join(" | ", rs.Select(r => $"{r.AccuracyFull:P1} → {r.AccuracyRouted:P1} ({r.MostCommonMask})"))
                            + $" | {rs.Select(r => r.MostCommonMask).Distinct().Count()} |");
                    }
                    rows++;
                }
            }

            // One run toward the profile's masks, then the same table, with the profile's mask beside each task's routed one.
            void Distill(Action<PassProgress> progress, string path)
            {
                var profile = ModelProfile.Load(path);
                profile.EnsureFits(llama.Config, modelPath);
                var targets = profile.Tasks.Select(t => (TaskGenerator.Find(t.Name), t.Mask(llama.Config.NLayers))).ToList();
                var tok = TextTokenizer.Load(parse.GetValue(tokenizer) ?? CommonOptions.DefaultTokenizer(modelPath));
                tok.EnsureFits(llama);
                progress(PassProgress.Note($"training routers to the masks of {path}: {string.Join(", ", targets.Select(t => $"{t.Item1.Name} {t.Item2}"))}"));
                var result = RouterDistillation.Run(llama, tok, targets, options, progress, ct);
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
                result.Routers.Save(outFile);
                saved++;
                progress(PassProgress.Note($"wrote {outFile} ({result.Seconds:F0} s)"));
                var rs = RouterEvaluation.Tasks(llama, tok, result.Routers, thr, targets.Select(t => t.Item1), n, cancellationToken: ct);
                table.AppendLine("| task | profile mask | routed to it | commonest routed mask | exact match full → routed | layers skipped |");
                table.AppendLine("|---|---|---:|---|---|---:|");
                foreach (var (r, (_, mask)) in rs.Zip(targets))
                    table.AppendLine($"| {r.Task} | {mask} | {r.MaskCounts.GetValueOrDefault(mask.ToString()) / (double)r.Prompts:P1} | {r.MostCommonMask} | {r.AccuracyFull:P1} → {r.AccuracyRouted:P1} | {r.SkippedShare:P1} |");
                rows++;
            }
        });
        return command;
    }

    /// <summary>x.routers.bin → x.lora.bin (the adapters trained with those routers).</summary>
    internal static string AdapterPath(string routersPath)
    {
        string dir = Path.GetDirectoryName(routersPath) ?? "", name = Path.GetFileName(routersPath);
        string stem = name.EndsWith(".routers.bin", StringComparison.Ordinal) ? name[..^".routers.bin".Length] : Path.GetFileNameWithoutExtension(name);
        return Path.Combine(dir, stem + ".lora.bin");
    }

    private static string WithLambda(string path, double lambda)
    {
        string l = lambda.ToString("G3", CultureInfo.InvariantCulture);
        string dir = Path.GetDirectoryName(path) ?? "", name = Path.GetFileName(path);
        int dot = name.IndexOf('.');
        return Path.Combine(dir, dot < 0 ? $"{name}.lambda{l}" : $"{name[..dot]}.lambda{l}{name[dot..]}");
    }
}
