using System.Buffers.Binary;
using System.Text.Json;
using FiRST.Runtime;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Tests.Support;
using FiRST.Samples.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first export</c>: the one-task weight file holds only the task's layers and decodes exactly as the full
/// model on that task's mask; the written project publishes with NativeAOT (no warnings: they fail its build)
/// into an executable that answers as <c>first generate</c> does.
/// </summary>
public sealed class CliExportTests
{
    private static string DemoModel => Path.Combine(AppContext.BaseDirectory, "demo", "model.bin");
    private static string DemoTokenizer => Path.Combine(AppContext.BaseDirectory, "demo", "tokenizer.bin");

    [Fact]
    public void The_weight_file_holds_the_task_layers_only_and_decodes_like_the_full_model_on_its_mask()
    {
        using var dir = new TempDir();
        var result = FirstCli.Run("export", "--task", "add4", "--out", dir.Path);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("layers 11110000 (4 of 8)", result.Stdout);

        // The safetensors header lists layers 0 to 3, and nothing of 4 to 7.
        string weights = Path.Combine(dir.Path, "model.safetensors");
        var names = TensorNames(weights);
        for (int l = 0; l < 8; l++)
            Assert.Equal(l is 0 or 1 or 2 or 3, names.Any(n => n.StartsWith($"model.layers.{l}.", StringComparison.Ordinal)));
        Assert.Contains("model.embed_tokens.weight", names);
        Assert.Contains("model.norm.weight", names);

        // Loaded back with the task's mask, it gives the full model's logits on that mask, bit for bit.
        var mask = LayerMask.FromKept(8, [0, 1, 2, 3]);
        using var full = LlamaModel.Load(DemoModel);
        using var exported = LlamaModel.Load(weights, new ModelLoadOptions { Layers = mask });
        Assert.Equal(full.Config, exported.Config);
        var tokenizer = TextTokenizer.Load(DemoTokenizer);
        using var a = full.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
        using var b = exported.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
        foreach (int token in tokenizer.Encode("1234+5678="))
            Assert.Equal(a.Forward(token).ToArray(), b.Forward(token).ToArray());
        // The project asks for that one task.
        Assert.Contains("[FiRSTModel(\"model.first.json\", Task = \"add4\")]", File.ReadAllText(Path.Combine(dir.Path, "Program.cs")));
        // Its tokenizer is a llama2.c .bin: the build trims the tokenizer.json reader (and the regex engine) away.
        Assert.Contains("<RuntimeHostConfigurationOption Include=\"FiRST.Runtime.Tokenization.TokenizerJson.IsSupported\" Value=\"false\" Trim=\"true\" />",
                        File.ReadAllText(Path.Combine(dir.Path, "add4.csproj")));
    }

    [Fact]
    public void A_q8_export_quantizes_the_task_layers_at_load_as_the_full_model_would()
    {
        using var dir = new TempDir();
        var result = FirstCli.Run("export", "--task", "add4", "--quant", "q8", "--out", dir.Path);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("Model.LoadOptions(WeightFormat.Q8)", File.ReadAllText(Path.Combine(dir.Path, "Program.cs")));
        var mask = LayerMask.FromKept(8, [0, 1, 2, 3]);
        using var full = LlamaModel.Load(DemoModel, new ModelLoadOptions { Format = WeightFormat.Q8 });
        using var exported = LlamaModel.Load(Path.Combine(dir.Path, "model.safetensors"), new ModelLoadOptions { Layers = mask, Format = WeightFormat.Q8 });
        var tokenizer = TextTokenizer.Load(DemoTokenizer);
        using var a = full.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
        using var b = exported.CreateSession(new SessionOptions { Mask = mask, Threads = 1 });
        foreach (int token in tokenizer.Encode("1234+5678="))
            Assert.Equal(a.Forward(token).ToArray(), b.Forward(token).ToArray());
    }

    [Theory]
    [InlineData("--task", "divide", "has no task 'divide'; its tasks are copy, reverse, sort, add4")]
    [InlineData("--profile", "x.first.json", "--profile needs --model")]
    public void Bad_arguments_get_one_line(string option, string value, string expected)
    {
        using var dir = new TempDir();
        string[] args = option == "--task" ? ["export", "--task", value, "--out", dir.Path] : ["export", option, value, "--task", "copy", "--out", dir.Path];
        var result = FirstCli.Run(args);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_non_empty_output_directory_is_refused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("keep.txt"), "mine");
        var result = FirstCli.Run("export", "--task", "copy", "--out", dir.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is not empty", result.Stderr);
        Assert.Equal("mine", File.ReadAllText(dir.File("keep.txt")));
    }

    /// <summary>
    /// The whole route a user takes: FiRST.Runtime packed from this build (a version unique to the run, so no
    /// package cache holds it), <c>first export --package-source</c>, <c>dotnet publish</c> (NativeAOT; a warning
    /// would fail it), then the executable answers the task's prompts as <c>first generate</c> does.
    /// </summary>
    [Fact]
    public void The_exported_project_publishes_with_NativeAOT_and_answers_like_first_generate()
    {
        // NativeAOT on Linux links with clang: .ci/run installs it and asks for this test (FIRST_REQUIRE_AOT); a
        // machine without it skips the test unless asked.
        if (!OperatingSystem.IsLinux()) return;
        if (!HasLinker())
        {
            Assert.True(Environment.GetEnvironmentVariable("FIRST_REQUIRE_AOT") != "1", "NativeAOT needs clang and zlib1g-dev: apt-get install -y clang zlib1g-dev");
            return;
        }
        using var dir = new TempDir();
        string root = Repository.Root, feed = dir.File("feed"), project = dir.File("copy");
        string version = "0.0.0-export." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        Succeed(Run(root, "dotnet", "pack", Path.Combine(root, "src", "FiRST.Runtime", "FiRST.Runtime.csproj"), "--no-build", "-c", "Release", "-o", feed,
                    $"-p:Version={version}", $"-p:NuspecOutputPath={dir.File("nuspec")}/", "-nodeReuse:false"));

        var export = FirstCli.Run("export", "--task", "copy", "--out", project, "--package-source", feed, "--runtime-version", version);
        Assert.True(export.ExitCode == 0, export.Stderr);
        // Restored into a packages folder of the test's own (the machine's folder is a source), so nothing is left behind.
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                                 ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string publish = Succeed(Run(project, "dotnet", "publish", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false",
                                     $"-p:RestorePackagesPath={dir.File("packages")}", $"-p:RestoreAdditionalProjectSources={machinePackages}"));
        Assert.DoesNotContain("warning", publish, StringComparison.OrdinalIgnoreCase);

        string exe = Path.Combine(project, "bin", "Release", "net10.0", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, "publish", "copy");
        Assert.True(File.Exists(exe), publish);
        Assert.InRange(new FileInfo(exe).Length, 1, 15L << 20);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(exe)!, "model.safetensors")));
        foreach (string prompt in new[] { "copy kqz1 =>", "copy abc =>", "copy h3llo9 =>" })
        {
            var run = Succeed(Run(project, exe, prompt));
            var generate = FirstCli.Run("generate", "--prompt", prompt, "--temperature", "0", "--threads", "1");
            Assert.True(generate.ExitCode == 0, generate.Stderr);
            // first generate echoes the prompt; the binary prints the answer alone.
            Assert.Equal(System.Text.Encoding.UTF8.GetString(generate.StdoutBytes).Trim(), (prompt + run.Split('\n')[0]).Trim());
            Assert.Contains("path: CopyPath", run);
            Assert.Contains("layers: 11111000", run);
        }
    }

    private static bool HasLinker() =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "clang")) || File.Exists(Path.Combine(d, "clang-14")));

    private static string[] TensorNames(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, length));
        return header.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").ToArray();
    }

    private static string Succeed((int Code, string Output) run)
    {
        Assert.True(run.Code == 0, run.Output);
        return run.Output;
    }

    private static (int Code, string Output) Run(string workingDirectory, string file, params string[] args) =>
        Processes.Run(TimeSpan.FromMinutes(5), workingDirectory, file, args);
}
