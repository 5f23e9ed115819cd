using System.CommandLine;
using System.Text;
using FiRST.Runtime;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Calibration;
using FiRST.Evaluation.Tasks;
using FiRST.Cli.Charts;
using FiRST.Cli.Reporting;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first calibrate</c>: runs the routers over each task's prompts, picks one mask per task, measures it
/// against the full model and writes the profile the source generator reads.
/// </summary>
internal static class CalibrateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = CommonOptions.ModelOrDefault();
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer (default: beside the model)" };
        var routers = new Option<string>("--routers", "-r") { Description = "Router file (from 'first-train train-routers')", Required = true };
        var tasks = new Option<string>("--tasks") { Description = "Comma-separated built-in tasks, or a JSONL task file", DefaultValueFactory = _ => string.Join(",", TaskGenerator.Standard.Select(t => t.Name)) };
        var outPath = new Option<string>("--out") { Description = "Profile to write (NAME.first.json)", Required = true };
        var plots = new Option<string?>("--plots") { Description = "Write the p_l heatmap and the latency bars (SVG and PNG) into this folder" };
        var calibrationPrompts = new Option<int>("--calibration-prompts") { Description = "Prompts per task the mask is chosen on", DefaultValueFactory = _ => new CalibrationOptions().CalibrationPrompts };
        var prompts = new Option<int>("--prompts") { Description = "Held-out prompts per task the mask is measured on", DefaultValueFactory = _ => new CalibrationOptions().HeldOutPrompts };
        var keepShare = new Option<double>("--keep-share") { Description = "Keep a layer the routers kept on more than this share of prompts", DefaultValueFactory = _ => new CalibrationOptions().KeepShare };
        var maxDrop = new Option<double?>("--max-drop") { Description = "Per task, the fewest layers whose exact match on the calibration prompts is at most this many points below the full model's (instead of --keep-share)" };
        var search = new Option<string>("--mask-search") { Description = "How --max-drop searches: ladder (the routers' ranking, one mask per layer count) or elimination (remove the least harmful layer while within the budget)", DefaultValueFactory = _ => "ladder" };
        search.AcceptOnlyFromAmong("ladder", "elimination");
        var threshold = CommonOptions.Threshold();
        var adapter = CommonOptions.Adapter();
        var threads = new Option<int>("--threads") { Description = "Threads per kernel while measuring", DefaultValueFactory = _ => 1 };
        var maskOnly = new Option<bool>("--mask-only") { Description = "Only the masks: skip the search for early-exit thresholds and speculation plans" };
        var command = new Command("calibrate", "Choose and measure one layer mask per task, then its early-exit thresholds and self-speculation plan; write the FiRST profile")
        {
            model, tokenizer, routers, tasks, outPath, plots, calibrationPrompts, prompts, keepShare, maxDrop, search, threshold, threads, adapter, maskOnly,
        };
        command.SetAction((parse, ct) =>
        {
            string modelPath = parse.GetValue(model)!;
            string routersPath = parse.GetValue(routers)!;
            string profilePath = parse.GetValue(outPath)!;
            var o = new CalibrationOptions
            {
                CalibrationPrompts = parse.GetValue(calibrationPrompts),
                HeldOutPrompts = parse.GetValue(prompts),
                KeepShare = parse.GetValue(keepShare),
                MaxExactMatchDrop = parse.GetValue(maxDrop) / 100,
                Search = parse.GetValue(search) == "elimination" ? MaskSearch.Elimination : MaskSearch.Ladder,
                Threshold = parse.GetValue(threshold),
                Threads = parse.GetValue(threads),
            };
            if (o.CalibrationPrompts < 1 || o.HeldOutPrompts < 1) throw new ArgumentException("--calibration-prompts and --prompts must be at least 1");
            if (!(o.KeepShare is >= 0 and <= 1)) throw new ArgumentException($"--keep-share must be within [0, 1], got {o.KeepShare}");
            if (o.MaxExactMatchDrop is { } d && !(d is >= 0 and <= 1)) throw new ArgumentException($"--max-drop must be within [0, 100] points, got {d * 100}");
            if (!(o.Threshold is >= 0 and <= 1)) throw new ArgumentException($"--threshold must be within [0, 1], got {o.Threshold}");
            if (o.Threads < 1) throw new ArgumentException($"--threads must be at least 1, got {o.Threads}");
            var taskList = TaskFile.Resolve(parse.GetValue(tasks)!);
            using var llama = LlamaModel.Load(modelPath, CommonOptions.LoadOptions("none", parse.GetValue(adapter)));
            var routerSet = RouterSet.Load(routersPath);
            var tok = TextTokenizer.Load(parse.GetValue(tokenizer) ?? CommonOptions.DefaultTokenizer(modelPath));
            tok.EnsureFits(llama);
            string profileDir = Path.GetDirectoryName(Path.GetFullPath(profilePath))!;
            string relativeRouters = Path.GetRelativePath(profileDir, Path.GetFullPath(routersPath)).Replace('\\', '/');

            ModelProfile profile;
            try
            {
                profile = ProgressReporter.For(error).Run(report =>
                {
                    var (masks, _) = TaskCalibration.Run(llama, tok, routerSet, relativeRouters, taskList, o, report, ct);
                    // Early-exit thresholds and the speculation plan per task; speculation is timed on the task's
                    // compiled path where first has one for this model (the embedded model's), else the generic loop.
                    return parse.GetValue(maskOnly)
                        ? masks
                        : DecodeCalibration.Run(llama, tok, masks, taskList, CommonOptions.IsDefaultModel(modelPath) ? DemoModel.Paths : null, o, report, ct);
                });
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Outside Run, so below the bars. The findings printed hold what was measured; a profile with some
                // tasks would look complete.
                CliErrors.NotWritten(error, profilePath, parse.GetValue(plots));
                throw;
            }
            Directory.CreateDirectory(profileDir);
            profile.Save(profilePath);
            output.Write(Table(profile));
            output.WriteLine($"wrote {profilePath}");
            if (parse.GetValue(plots) is { } dir)
            {
                // The SVGs first: they need nothing native, and stand where the PNGs cannot be drawn.
                foreach (string file in CalibrationPlots.Write(profile, dir)) output.WriteLine($"wrote {file}");
                foreach (string file in CalibrationCharts.Write(profile, dir)) output.WriteLine($"wrote {file}");
            }
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The profile's measurements as a Markdown table, one row per task.</summary>
    public static string Table(ModelProfile profile)
    {
        var sb = new StringBuilder();
        int layers = profile.Model.NLayers;
        sb.AppendLine("| task | mask | skipped | exact match full | exact match masked | agreement | ms/token full | ms/token masked | latency cut |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var t in profile.Tasks)
        {
            var mask = t.Mask(layers);
            sb.AppendLine($"| {t.Name} | {mask} | {layers - mask.KeptCount}/{layers} | {t.AccuracyFull:P1} | {t.AccuracyMasked:P1} | {t.Agreement:P1} | {t.MsPerTokenFull:F4} | {t.MsPerTokenMasked:F4} | {1 - t.MsPerTokenMasked / t.MsPerTokenFull:P0} |");
        }
        double skipped = profile.Tasks.Average(t => 1 - (double)t.KeptLayers.Count / layers);
        sb.AppendLine();
        sb.AppendLine($"Distinct masks: {profile.Tasks.Select(t => t.Mask(layers)).Distinct().Count()} of {profile.Tasks.Count} tasks; mean share of layers skipped: {skipped:P1}.");
        return sb.ToString();
    }
}
