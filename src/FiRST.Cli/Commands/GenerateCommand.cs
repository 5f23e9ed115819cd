using System.CommandLine;
using FiRST.Runtime;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using FiRST.Evaluation.Tasks;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first generate</c>: streams generated text to stdout and statistics to stderr. Output follows llama2.c's
/// <c>run.c</c> byte for byte: the prompt is echoed, single bytes that are not printable ASCII are dropped
/// (unless <c>--raw</c>), and a newline ends the text.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter error, Func<Stream> openStdout)
    {
        var model = CommonOptions.ModelOrDefault();
        var quant = CommonOptions.Quant();
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer: SentencePiece .model or llama2.c .bin (default: tokenizer.model or tokenizer.bin beside the model)" };
        var prompt = new Option<string>("--prompt", "-i")
        {
            Description = "Prompt text. The embedded model accepts: " + string.Join("; ", TaskGenerator.Standard.Select(t => t.Grammar)) + ". Others are refused unless --raw-prompt",
            DefaultValueFactory = _ => "",
        };
        var rawPrompt = new Option<bool>("--raw-prompt") { Description = "Send a prompt outside the embedded model's tasks anyway (to see what the network does with it)" };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 is greedy", DefaultValueFactory = _ => 1.0f };
        var topP = new Option<float>("--top-p", "-p") { Description = "Nucleus sampling threshold in [0, 1]; 0 or 1 disables it", DefaultValueFactory = _ => 0.9f };
        var topK = new Option<int>("--top-k", "-k") { Description = "Keep only the k most likely tokens; 0 disables it", DefaultValueFactory = _ => 0 };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Random seed (default: from the clock, printed with the stats)" };
        var steps = new Option<int>("--steps", "-n") { Description = "Forward passes, prompt included; 0 = the model's context length", DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads") { Description = "Threads per kernel", DefaultValueFactory = _ => Environment.ProcessorCount };
        var stopAtEos = new Option<bool?>("--stop-at-eos") { Description = "Also stop at the end-of-sequence token (llama2.c stops only at BOS; default: on for the embedded model)" };
        var raw = new Option<bool>("--raw") { Description = "Write every byte of the text (llama2.c drops single non-printable bytes, which splits multi-byte characters)" };
        var routers = CommonOptions.Routers();
        var adapter = CommonOptions.Adapter();
        var profile = new Option<string?>("--profile") { Description = "A FiRST profile (*.first.json): run the layer mask of --task from it instead of routing" };
        var task = new Option<string?>("--task") { Description = "The task whose mask runs: from --profile, or the embedded model's (default there: the task whose form the prompt has)" };
        var threshold = CommonOptions.Threshold();
        var speculate = DecodingOptions.Speculate(
            "Self-speculative decoding: the first E of the path's kept layers draft k tokens, the rest verify them in one pass (greedy output unchanged); 'auto' uses the task path's calibrated plan when it has one");
        var earlyExit = DecodingOptions.EarlyExit(
            "Early exit: a token leaves after any layer but the last once its top probability reaches this (in (0, 1]); runs on the generic loop (the dynamic path), on the full model unless --task or --routers");
        var policy = DecodingOptions.Policy();

        var command = new Command("generate", "Generate text from a prompt")
        {
            model, quant, tokenizer, prompt, rawPrompt, temperature, topP, topK, seed, steps, threads, stopAtEos, raw, routers, threshold, profile, task, adapter,
            speculate, earlyExit, policy,
        };
        command.SetAction((parse, ct) =>
        {
            var sampling = new SamplerOptions
            {
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                Seed = parse.GetValue(seed) ?? (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            };
            sampling.Validate();
            int stepCount = parse.GetValue(steps);
            if (stepCount < 0) throw new ArgumentException($"--steps must be >= 0, got {stepCount}");
            int threadCount = parse.GetValue(threads);
            if (threadCount < 1) throw new ArgumentException($"--threads must be >= 1, got {threadCount}");

            string modelPath = parse.GetValue(model)!;
            var decoding = GenerateDecoding.From(parse.GetValue(speculate), parse.GetValue(earlyExit), parse.GetValue(policy));
            string tokenizerPath = parse.GetValue(tokenizer) ?? CommonOptions.DefaultTokenizer(modelPath);
            bool demo = CommonOptions.IsDefaultModel(modelPath);
            string promptText = parse.GetValue(prompt)!;
            // The embedded model knows its four tasks only: anything else gets an answer that looks like one and
            // is wrong, so it is refused with what the model does accept, unless asked for.
            if (demo && parse.GetValue(profile) is null && !parse.GetValue(rawPrompt)
                && TaskGrammar.Refusal(promptText, TaskGenerator.Standard, parse.GetValue(task) is { } named ? TaskGenerator.Standard.FirstOrDefault(t => t.Name == named) : null) is { } refusal)
                throw new ArgumentException($"{refusal}; 'first tasks' says what each accepts, --raw-prompt sends it anyway");
            // The embedded model's tasks were compiled into this tool: a prompt of a task's form (or --task) pins
            // that task, unless a profile or routers choose the layers. With early exit only --task pins one
            // (without it the full model runs: exits are what skip layers then).
            var demoTask = demo && parse.GetValue(profile) is null && parse.GetValue(routers) is null && (decoding.EarlyExit is null || parse.GetValue(task) is not null)
                ? DemoTask(parse.GetValue(task), promptText)
                : null;
            // A pinned float32 task path is known from the prompt alone: its decode step compiles on a spare core
            // while the model loads and the prompt prefills (see DecodeWarmUp).
            using var earlyWarmUp = demoTask is { } early && decoding.EarlyExit is null && decoding.Policy != Runtime.Decoding.PathPolicy.Dynamic
                                    && parse.GetValue(quant) is not ("q8" or "q4") && parse.GetValue(adapter) is null
                ? DecodeWarmUp.StartBlank(modelPath, DemoModel.PathFor(early))
                : null;
            var tok = TextTokenizer.Load(tokenizerPath);
            using var llama = LlamaModel.Load(modelPath, CommonOptions.LoadOptions(parse.GetValue(quant)!, parse.GetValue(adapter)));
            LayerMask? mask = null;
            RouterSet? routerSet = null;
            Runtime.Paths.IDecodePath? taskPath = null;
            string? pinned = null;
            if (parse.GetValue(profile) is { } profilePath)
            {
                // A fixed per-task mask from calibration: what a generated task path runs.
                if (parse.GetValue(routers) is not null) throw new ArgumentException("give --profile or --routers, not both");
                string taskName = parse.GetValue(task) ?? throw new ArgumentException("--profile needs --task NAME");
                var p = ModelProfile.Load(profilePath);
                p.EnsureFits(llama.Config, modelPath);
                mask = p.Task(taskName).Mask(llama.Config.NLayers);
            }
            else if (demoTask is { } pinnedTask)
            {
                // The pinned task's generated path, on the mask its calibration chose. Early exit runs on the
                // generic loop only, so there the task's mask runs on it.
                taskPath = DemoModel.PathFor(pinnedTask);
                string name = pinnedTask.ToString().ToLowerInvariant();
                pinned = parse.GetValue(task) is null ? $"{name} (the prompt's form)" : $"{name} (--task)";
                if (decoding.Policy == Runtime.Decoding.PathPolicy.Dynamic)
                {
                    mask = taskPath.Mask;
                    taskPath = null;
                }
            }
            else
            {
                if (parse.GetValue(task) is not null)
                    throw new ArgumentException(demo ? "give --task or --routers, not both" : "--task needs --profile PATH (or the embedded model)");
                // With early exit the embedded model's default routers stay off: --routers asks for them.
                routerSet = decoding.EarlyExit is not null && parse.GetValue(routers) is null
                    ? null
                    : CommonOptions.LoadRouters(parse.GetValue(routers), modelPath);
            }
            // A plan that cannot fit fails here, before any text is written; a routed mask is known only after
            // prefill, so there only the model's layer count bounds it (a routed mask too small for the plan
            // decodes without speculation, and the statistics say so).
            if (decoding.Speculation is { } plan)
            {
                var fixedMask = taskPath?.Mask ?? mask ?? (routerSet is null ? LayerMask.All(llama.Config.NLayers) : null);
                DecodingOptions.EnsureFits(plan, fixedMask?.KeptCount ?? llama.Config.NLayers, fixedMask is null ? "the model" : $"the path {fixedMask}");
            }
            var generator = new TextGenerator(llama, tok, new SessionOptions
            {
                Threads = threadCount,
                Routers = routerSet,
                RouterThreshold = parse.GetValue(threshold),
                Mask = mask,
                Path = taskPath,
                // The demo model's task paths were compiled into this tool (they run merged adapters too: a path
                // only orders layer calls); any other model decodes generically.
                Paths = demo ? DemoModel.Paths : null,
                Policy = decoding.Policy,
                EarlyExit = decoding.EarlyExit is { } t ? DecodingOptions.UniformExit(llama.Config.NLayers, t) : null,
                Speculation = decoding.Speculation,
                SpeculateAsCalibrated = decoding.AsCalibrated,
            });
            // The embedded model ends every answer with EOS; llama2.c-style models separate documents with BOS.
            bool eos = parse.GetValue(stopAtEos) ?? demo;
            var options = new GenerationOptions
            {
                Sampling = sampling,
                MaxSteps = stepCount,
                StopTokens = eos ? [.. tok.DefaultStopTokens, tok.EosId] : null,
            };
            // Otherwise the pinned path's decode step compiles on a spare core while prefill runs.
            using var warmUp = earlyWarmUp is null ? DecodeWarmUp.Start(llama, taskPath, tok.BosId) : null;
            var run = generator.Generate(promptText, options, ct);

            using var stdout = openStdout();
            bool writeAll = parse.GetValue(raw);
            // Echo the prompt as llama2.c does: each piece after the first, decoded against its predecessor,
            // one per forward pass (so a step count shorter than the prompt cuts the echo too).
            var promptTokens = run.PromptTokens;
            int forwardPasses = stepCount == 0 ? llama.Config.MaxSeqLen : Math.Min(stepCount, llama.Config.MaxSeqLen);
            for (int i = 1; i < promptTokens.Count && i <= forwardPasses; i++)
                Write(stdout, tok.PieceBytes(promptTokens[i], promptTokens[i - 1]).Span, writeAll);
            bool cancelled = false;
            try
            {
                foreach (var token in run)
                    Write(stdout, token.Utf8.Span, writeAll);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl+C: the text so far stays, the statistics say why it stopped, and the exit code is 130.
                cancelled = true;
            }
            stdout.WriteByte((byte)'\n');
            stdout.Flush();

            var s = run.Stats;
            error.WriteLine(
                $"prefill: {s.PromptTokens} tokens, {s.PrefillMs:F1} ms ({s.PrefillTokensPerSecond:F1} tok/s) | " +
                $"decode: {s.GeneratedTokens} tokens, {s.MsPerToken:F3} ms/token ({s.TokensPerSecond:F1} tok/s) | " +
                $"stop: {s.StopReason} | threads: {s.Threads} | seed: {sampling.Seed} | layers: {s.Mask} | " +
                $"path: {DecodingOptions.PathWithReason(s.DecodePath, s.PathReason)}{decoding.Describe(s)}");
            if (pinned is not null)
                error.WriteLine($"task: {pinned}; --routers to let the routers choose the layers");
            if (s.Routing is { } routing)
                error.WriteLine($"routers: {routing} (threshold {routing.Threshold:F2}); KV {s.KvBytes / 1024.0:F0} KiB");
            return Task.FromResult(cancelled ? CliErrors.Cancelled : 0);
        });
        return command;
    }

    /// <summary>
    /// The embedded model's task named by <paramref name="name"/>, or else the one whose form the prompt has;
    /// null when neither names one.
    /// </summary>
    private static DemoModel.Task? DemoTask(string? name, string prompt)
    {
        string? taskName = name ?? TaskGenerator.Recognize(prompt, TaskGenerator.Standard)?.Name;
        if (taskName is null) return null;
        return Enum.TryParse<DemoModel.Task>(taskName, ignoreCase: true, out var t) && Enum.IsDefined(t)
            ? t
            : throw new ArgumentException($"the embedded model has no task '{taskName}'; its tasks: {string.Join(", ", Enum.GetNames<DemoModel.Task>()).ToLowerInvariant()}");
    }

    /// <summary>Writes a piece, skipping what llama2.c's <c>safe_printf</c> skips unless <paramref name="writeAll"/>.</summary>
    private static void Write(Stream stdout, ReadOnlySpan<byte> piece, bool writeAll)
    {
        if (piece.IsEmpty) return;
        if (!writeAll && piece.Length == 1 && !IsPrintableOrSpace(piece[0])) return;
        stdout.Write(piece);
        stdout.Flush();
    }

    // C's isprint || isspace in the "C" locale.
    private static bool IsPrintableOrSpace(byte b) => b is >= 0x20 and <= 0x7E or (byte)'\t' or (byte)'\n' or 0x0B or 0x0C or (byte)'\r';
}
