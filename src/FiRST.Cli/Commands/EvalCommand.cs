using System.CommandLine;
using FiRST.Runtime;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;

namespace FiRST.Cli.Commands;

/// <summary><c>first eval</c>: exact-match accuracy per task, for the full model and early exit at every layer.</summary>
internal static class EvalCommand
{
    /// <summary>The embedded model's hand-written prompts, beside it.</summary>
    public static string DefaultPromptList => Path.Combine(AppContext.BaseDirectory, "demo", "prompts.jsonl");

    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = CommonOptions.ModelOrDefault();
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer (default: tokenizer.model or tokenizer.bin beside the model)" };
        var tasks = new Option<string>("--tasks") { Description = "Comma-separated tasks", DefaultValueFactory = _ => string.Join(",", TaskGenerator.Standard.Select(t => t.Name)) };
        var prompts = new Option<int>("--prompts") { Description = "Held-out prompts per task", DefaultValueFactory = _ => 500 };
        var fullOnly = new Option<bool>("--full-only") { Description = "Only the full model, no early-exit columns" };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
        var earlyExit = DecodingOptions.EarlyExit(
            "Also the runtime's early exit: a token leaves after any layer but the last once its top probability reaches this (in (0, 1]); adds its accuracy and the mean exit depth");
        var promptList = new Option<string?>("--prompt-list")
        {
            Description = "Hand-written prompts (JSON Lines: {\"prompt\", \"answer\"} or {\"prompt\", \"refused\": true}) checked against the tasks' grammar and answered by the full model (default for the embedded model: its prompts.jsonl)",
        };
        var quant = CommonOptions.Quant();
        var command = new Command("eval", "Exact-match accuracy per task (full model, per length bucket, early exit after every layer) and on hand-written prompts")
        {
            model, tokenizer, tasks, prompts, fullOnly, json, earlyExit, promptList, quant,
        };
        command.SetAction((parse, ct) =>
        {
            string modelPath = parse.GetValue(model)!;
            string tokenizerPath = parse.GetValue(tokenizer) ?? CommonOptions.DefaultTokenizer(modelPath);
            int n = parse.GetValue(prompts);
            if (n < 1) throw new ArgumentException($"--prompts must be at least 1, got {n}");
            float? threshold = parse.GetValue(earlyExit) is { } t ? DecodingOptions.EnsureThreshold(t) : null;
            var selected = parse.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(TaskGenerator.Find).ToArray();
            using var llama = LlamaModel.Load(modelPath, CommonOptions.LoadOptions(parse.GetValue(quant)!));
            var tok = TextTokenizer.Load(tokenizerPath);
            tok.EnsureFits(llama);
            error.WriteLine($"weights: {llama.Weights.FormatName}");
            try
            {
                Evaluate(parse, llama, tok, selected, n, threshold, modelPath, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The progress lines hold the accuracies measured so far; a JSON file would look complete.
                CliErrors.NotWritten(error, parse.GetValue(json));
                throw;
            }
            return Task.FromResult(0);
        });
        return command;

        // Everything after loading: the tables to stdout, then the JSON file.
        void Evaluate(ParseResult parse, LlamaModel llama, TextTokenizer tok, TaskGenerator[] selected, int n, float? threshold, string modelPath, CancellationToken ct)
        {
            var results = TaskEvaluation.Run(llama, tok, selected, n, !parse.GetValue(fullOnly), line => error.WriteLine(line), ct);
            var exits = threshold is { } th
                ? TaskEvaluation.RunEarlyExit(llama, tok, selected, n, DecodingOptions.UniformExit(llama.Config.NLayers, th), line => error.WriteLine(line), ct)
                : null;
            output.Write(TaskEvaluation.Markdown(results, llama.Config.NLayers, exits, threshold ?? 0));
            // The embedded model's own list covers all its tasks: with fewer selected it would count the others' prompts as refused.
            bool allDemoTasks = TaskGenerator.Standard.All(selected.Contains);
            string? listPath = parse.GetValue(promptList) ?? (CommonOptions.IsDefaultModel(modelPath) && allDemoTasks ? DefaultPromptList : null);
            if (listPath is not null)
            {
                var verdicts = TaskEvaluation.RunPromptList(llama, tok, selected, PromptList.Load(listPath), ct);
                output.WriteLine();
                output.Write(TaskEvaluation.Markdown(verdicts));
            }
            if (parse.GetValue(json) is { } jsonPath)
            {
                var options = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
                // Without --early-exit the file keeps its old shape: the list of tasks.
                File.WriteAllText(jsonPath, exits is null
                    ? System.Text.Json.JsonSerializer.Serialize(results, options)
                    : System.Text.Json.JsonSerializer.Serialize(new { Tasks = results, EarlyExitThreshold = threshold, EarlyExit = exits }, options));
            }
        }
    }
}
