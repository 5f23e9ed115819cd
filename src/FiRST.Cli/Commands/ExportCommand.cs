using System.CommandLine;
using FiRST.Cli.Export;
using FiRST.Cli.Reporting;
using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Profiles;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first export</c>: a task-specialised build. Writes the task's weights (its kept layers only), the tokenizer
/// and a project whose generated code is that task's path alone; <c>dotnet publish</c> makes it a NativeAOT
/// executable.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var profile = new Option<string?>("--profile", "-p") { Description = "The calibrated profile (default: the embedded demo model's)" };
        var task = new Option<string>("--task", "-t") { Description = "The task to build for: its name in the profile", Required = true };
        var model = new Option<string?>("--model", "-m") { Description = "The model the profile was calibrated on (default: the embedded demo model; required with --profile)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer (default: tokenizer.model or tokenizer.bin beside the model)" };
        var quant = CommonOptions.Quant(fourBit: false);
        quant.Description = "Weights of the built program: 'none' (float32, as written) or 'q8' (int8, quantized when it loads them)";
        var outDir = new Option<string>("--out", "-o") { Description = "Directory for the project and its weights", Required = true };
        var source = new Option<string?>("--package-source") { Description = "A folder (or feed) holding the FiRST.Runtime package, written to the project's nuget.config" };
        var version = new Option<string?>("--runtime-version") { Description = "The FiRST.Runtime package version to reference (default: the one this tool carries)" };
        var command = new Command("export", "Write a one-task build: the task's layers as model.safetensors and a NativeAOT project that runs its generated path ('dotnet publish DIR -c Release')")
        {
            profile, task, model, tokenizer, quant, outDir, source, version,
        };
        command.SetAction(parse =>
        {
            string? profileArg = parse.GetValue(profile), modelArg = parse.GetValue(model);
            if (profileArg is not null && modelArg is null)
                throw new ArgumentException("--profile needs --model: the profile names the model's shape, not its file");
            string profilePath = profileArg ?? Path.Combine(AppContext.BaseDirectory, "demo", "model.first.json");
            string modelPath = modelArg ?? CommonOptions.DefaultModelPath;
            string taskName = parse.GetValue(task)!;
            string dir = parse.GetValue(outDir)!;
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(e => !Path.GetFileName(e).StartsWith('.') && Path.GetFileName(e) is not ("bin" or "obj")))
                throw new ArgumentException($"--out {dir} is not empty; give a new or empty directory");

            var loaded = ModelProfile.Load(profilePath);
            var entry = loaded.Tasks.FirstOrDefault(t => t.Name == taskName)
                ?? throw new ArgumentException($"the profile {profilePath} has no task '{taskName}'; its tasks are {string.Join(", ", loaded.Tasks.Select(t => t.Name))}");
            var mask = entry.Mask(loaded.Model.NLayers);
            string tokenizerPath = parse.GetValue(tokenizer) ?? CommonOptions.DefaultTokenizer(modelPath);
            string example = TaskGenerator.Standard.FirstOrDefault(g => g.Name == taskName)?.Example?.Prompt ?? "your prompt";
            const string Stage = "export";
            var written = ProgressReporter.For(error).Run(report =>
            {
                // Only the task's layers are read: the export never holds the rest.
                report(new PassProgress(Stage, 0, 2) { Line = $"reading layers {mask} of {modelPath}" });
                using var llama = LlamaModel.Load(modelPath, new ModelLoadOptions { Layers = mask });
                loaded.EnsureFits(llama.Config, modelPath);
                Runtime.Tokenization.TextTokenizer.Load(tokenizerPath).EnsureFits(llama);
                report(new PassProgress(Stage, 1, 2) { Line = $"writing {Path.Combine(dir, "model.safetensors")} and the project" });
                var result = OneTaskProject.Write(llama, profilePath, taskName, mask, tokenizerPath, parse.GetValue(quant) == "q8",
                                                  dir, parse.GetValue(source), parse.GetValue(version), example);
                report(new PassProgress(Stage, 2, 2));
                return result;
            });
            long full = ModelBytes(modelPath);
            output.WriteLine($"wrote {written.Directory}: task '{taskName}', layers {mask} ({mask.KeptCount} of {mask.LayerCount}), " +
                             $"model.safetensors {written.WeightBytes:N0} bytes ({full:N0} in {Path.GetFileName(modelPath)})");
            output.WriteLine($"build it: dotnet publish {written.Directory} -c Release   (NativeAOT{(written.InstructionSet.Length > 0 ? ", " + written.InstructionSet : "")}; needs clang and zlib1g-dev on Linux)");
            output.WriteLine($"run it:   {Path.Combine(written.Directory, "bin", "Release", "net10.0", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, "publish", written.Name)} \"{example}\"");
            return 0;
        });
        return command;
    }

    private static long ModelBytes(string path) =>
        Directory.Exists(path) ? Directory.EnumerateFiles(path, "*.safetensors").Sum(f => new FileInfo(f).Length) : new FileInfo(path).Length;
}
