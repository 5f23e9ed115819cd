using FiRST.Runtime.Decoding;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>The profile format (docs/profile-schema.md): round trip and every schema rule.</summary>
public sealed class ProfileTests
{
    /// <summary>
    /// A first.profile/2 file with every field, early-exit thresholds and a speculation plan included (the
    /// runtime's profile fuzzer damages this text too).
    /// </summary>
    internal const string Valid = """
        {
          "schema": "first.profile/2",
          "model": { "architecture": "llama", "dim": 64, "hidden_dim": 172, "n_layers": 5, "n_heads": 8, "n_kv_heads": 4,
                     "vocab_size": 512, "max_seq_len": 512, "norm_eps": 1e-5, "rope_theta": 10000, "shared_classifier": true },
          "routers": { "file": "stories.routers.bin", "threshold": 0.5 },
          "tasks": [
            { "name": "copy", "kept_layers": [0, 1, 2, 4], "skipped_layers": [3], "accuracy_full": 1.0, "accuracy_masked": 0.99,
              "agreement": 0.98, "ms_per_token_full": 0.1, "ms_per_token_masked": 0.08, "speedup": 1.25, "prompts": 100,
              "mean_p": [0.9, 0.8, 0.7, 0.2, 0.6],
              "early_exit": { "thresholds": [null, 0.9, 0.95, null, null] },
              "speculation": { "draft_layers": 2, "lookahead": 4 } },
            { "name": "reverse", "kept_layers": [0, 2, 4] }
          ]
        }
        """;

    /// <summary>The first schema version: <see cref="Valid"/> without the fields /2 added.</summary>
    internal const string ValidV1 = """
        {
          "schema": "first.profile/1",
          "model": { "architecture": "llama", "dim": 64, "hidden_dim": 172, "n_layers": 5, "n_heads": 8, "n_kv_heads": 4,
                     "vocab_size": 512, "max_seq_len": 512 },
          "tasks": [
            { "name": "copy", "kept_layers": [0, 1, 2, 4], "prompts": 100 },
            { "name": "reverse", "kept_layers": [0, 2, 4] }
          ]
        }
        """;

    private static ModelProfile Parse(string json) => ModelProfile.Parse(System.Text.Encoding.UTF8.GetBytes(json), "p.first.json");

    [Fact]
    public void ValidProfileLoadsAndRoundTrips()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.first.json"), Valid);
        var profile = ModelProfile.Load(dir.File("p.first.json"));
        Assert.Equal(5, profile.Model.NLayers);
        Assert.Equal(new RouterReference("stories.routers.bin", 0.5f), profile.Routers);
        Assert.Equal("11101", profile.Task("copy").Mask(5).ToString());
        Assert.Equal("10101", profile.Task("REVERSE").Mask(5).ToString());
        Assert.Equal(1.25, profile.Task("copy").Speedup);
        Assert.Equal(new EarlyExitOptions([null, 0.9f, 0.95f, null, null]), profile.Task("copy").EarlyExit);
        Assert.Equal(new SpeculationOptions(2, 4), profile.Task("copy").Speculation);
        Assert.Null(profile.Task("reverse").EarlyExit);
        Assert.Null(profile.Task("reverse").Speculation);

        profile.Save(dir.File("again.first.json"));
        Assert.Contains("\"schema\": \"first.profile/2\"", File.ReadAllText(dir.File("again.first.json")));
        var again = ModelProfile.Load(dir.File("again.first.json"));
        Assert.Equal(profile.Model, again.Model);
        Assert.Equal(profile.Tasks.Select(t => (t.Name, string.Join(",", t.KeptLayers), t.Agreement, t.Prompts, t.EarlyExit, t.Speculation)),
                     again.Tasks.Select(t => (t.Name, string.Join(",", t.KeptLayers), t.Agreement, t.Prompts, t.EarlyExit, t.Speculation)));
        Assert.Equal(profile.Task("copy").MeanP, again.Task("copy").MeanP);
    }

    [Fact]
    public void EarlyExitAndSpeculationRoundTripExactly()
    {
        // Thresholds are written as floats (shortest text), read as doubles and narrowed: each must come back
        // as the same float, the extremes of (0, 1] included.
        float?[] thresholds = [float.Epsilon, 0.1f, 1f / 3, null, MathF.BitDecrement(1f), 1f, 0.9f, null];
        var profile = new ModelProfile
        {
            Model = new ModelConfig { Dim = 64, HiddenDim = 172, NLayers = 8, NHeads = 8, NKvHeads = 4, VocabSize = 512, MaxSeqLen = 512 },
            Tasks =
            [
                new TaskProfile { Name = "copy", KeptLayers = [0, 1, 2, 5], EarlyExit = new EarlyExitOptions(thresholds), Speculation = new SpeculationOptions(3, SpeculationOptions.MaxLookahead) },
                new TaskProfile { Name = "sort", KeptLayers = [1, 7], Speculation = new SpeculationOptions(1, 1) },
                new TaskProfile { Name = "add", KeptLayers = [0], EarlyExit = EarlyExitOptions.Uniform(8, 0.5f) },
            ],
        };
        using var dir = new TempDir();
        profile.Save(dir.File("p.first.json"));
        string text = File.ReadAllText(dir.File("p.first.json"));
        Assert.Contains("\"draft_layers\": 3", text);
        Assert.Contains("0.9,", text); // not 0.8999999761581421

        var again = ModelProfile.Load(dir.File("p.first.json"));
        Assert.Equal(thresholds, again.Task("copy").EarlyExit!.Thresholds);
        Assert.Equal(new SpeculationOptions(3, 32), again.Task("copy").Speculation);
        Assert.Equal(new SpeculationOptions(1, 1), again.Task("sort").Speculation);
        Assert.Null(again.Task("sort").EarlyExit);
        Assert.Equal(EarlyExitOptions.Uniform(8, 0.5f), again.Task("add").EarlyExit);
        Assert.Null(again.Task("add").Speculation);
    }

    [Fact]
    public void FirstVersionFilesStillLoad()
    {
        var profile = Parse(ValidV1);
        Assert.Equal("11101", profile.Task("copy").Mask(5).ToString());
        Assert.All(profile.Tasks, t => Assert.Null(t.EarlyExit));
        Assert.All(profile.Tasks, t => Assert.Null(t.Speculation));
        // null counts as absent, in /1 as for every optional field.
        var nulls = Parse(ValidV1.Replace("\"prompts\": 100", "\"prompts\": 100, \"early_exit\": null, \"speculation\": null"));
        Assert.Null(nulls.Task("copy").EarlyExit);
        Assert.Null(nulls.Task("copy").Speculation);
    }

    /// <summary>Mutations of <see cref="Valid"/>'s copy task (4 of 5 layers kept): the field and what the message says.</summary>
    public static TheoryData<string, string, string, string> BadV2Fields => new()
    {
        { "[null, 0.9, 0.95, null, null]", "[null, 0.9, 0.95, null]", "early_exit.thresholds", "has 4 entries but the model has 5 layers" },
        { "[null, 0.9, 0.95, null, null]", "[null, 0.9, 0.95, null, null, null]", "early_exit.thresholds", "has 6 entries but the model has 5 layers" },
        { "[null, 0.9, 0.95, null, null]", "[null, 0, 0.95, null, null]", "early_exit.thresholds", "entry 1 (after layer 1) must be null or a number in (0, 1], got 0" },
        { "[null, 0.9, 0.95, null, null]", "[null, 0.9, 1.5, null, null]", "early_exit.thresholds", "entry 2 (after layer 2) must be null or a number in (0, 1], got 1.5" },
        { "[null, 0.9, 0.95, null, null]", "[null, 0.9, -0.95, null, null]", "early_exit.thresholds", "got -0.95" },
        { "[null, 0.9, 0.95, null, null]", "[null, 1e-50, 0.95, null, null]", "early_exit.thresholds", "got 1e-50" },
        { "[null, 0.9, 0.95, null, null]", "[null, \"0.9\", 0.95, null, null]", "early_exit.thresholds", "got a string" },
        { "[null, 0.9, 0.95, null, null]", "[null, null, null, null, null]", "early_exit.thresholds", "every entry is null" },
        { "{ \"thresholds\": [null, 0.9, 0.95, null, null] }", "{ }", "early_exit.thresholds", "missing or not an array" },
        { "{ \"thresholds\": [null, 0.9, 0.95, null, null] }", "[0.9]", "early_exit", "expected an object with thresholds, got an array" },
        { "\"draft_layers\": 2", "\"draft_layers\": 0", "speculation.draft_layers", "expected 1 to 3 (the draft runs the first E of the task's 4 kept layers, and one must be left to verify), got 0" },
        { "\"draft_layers\": 2", "\"draft_layers\": 4", "speculation.draft_layers", "got 4" },
        { "\"draft_layers\": 2", "\"draft_layers\": 5", "speculation.draft_layers", "got 5" },
        { "\"draft_layers\": 2", "\"draft_layers\": 2.5", "speculation.draft_layers", "expected an integer, got 2.5" },
        { "\"draft_layers\": 2, ", "", "speculation.draft_layers", "missing; expected an integer" },
        { "\"lookahead\": 4", "\"lookahead\": 0", "speculation.lookahead", "expected 1 to 32 drafted tokens per round, got 0" },
        { "\"lookahead\": 4", "\"lookahead\": 33", "speculation.lookahead", "got 33" },
        { "\"lookahead\": 4", "\"lookahead\": \"4\"", "speculation.lookahead", "expected an integer, got a string" },
        { "{ \"draft_layers\": 2, \"lookahead\": 4 }", "\"2:4\"", "speculation", "expected an object with draft_layers and lookahead, got a string" },
        { "\"first.profile/2\"", "\"first.profile/1\"", "early_exit", "needs schema 'first.profile/2'; this file is 'first.profile/1'" },
    };

    [Theory]
    [MemberData(nameof(BadV2Fields))]
    public void EarlyExitAndSpeculationViolationsNameTheFileAndField(string from, string to, string field, string problem)
    {
        Assert.Contains(from, Valid);
        var ex = Assert.Throws<ModelLoadException>(() => Parse(Valid.Replace(from, to)));
        Assert.Equal("p.first.json", ex.FilePath);
        Assert.Equal("tasks[0] (copy)." + field, ex.Field);
        Assert.Contains(problem, ex.Problem);
        Assert.StartsWith($"p.first.json: tasks[0] (copy).{field}: ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void SpeculationInAFirstVersionFileNeedsTheSecond()
    {
        var ex = Assert.Throws<ModelLoadException>(() => Parse(ValidV1.Replace("\"prompts\": 100", "\"prompts\": 100, \"speculation\": { \"draft_layers\": 1, \"lookahead\": 4 }")));
        Assert.Equal("tasks[0] (copy).speculation", ex.Field);
        Assert.Equal("p.first.json: tasks[0] (copy).speculation: needs schema 'first.profile/2'; this file is 'first.profile/1'", ex.Message);
    }

    [Fact]
    public void SpeculationNeedsTwoKeptLayers()
    {
        var ex = Assert.Throws<ModelLoadException>(() => Parse(Valid.Replace(
            "{ \"name\": \"reverse\", \"kept_layers\": [0, 2, 4] }",
            "{ \"name\": \"reverse\", \"kept_layers\": [4], \"speculation\": { \"draft_layers\": 1, \"lookahead\": 4 } }")));
        Assert.Equal("tasks[1] (reverse).speculation.draft_layers", ex.Field);
        Assert.Contains("the task keeps 1 layer", ex.Message);
    }

    [Theory]
    [InlineData("copy_draft", "'copy_draft' becomes 'CopyDraftPath' in generated code, the draft half of the task 'copy'")]
    [InlineData("Copy_Draft", "'Copy_Draft' becomes 'CopyDraftPath' in generated code, the draft half of the task 'copy'")]
    public void TaskNamedLikeAnotherTasksDraftHalf(string name, string problem)
    {
        var ex = Assert.Throws<ModelLoadException>(() => Parse(Valid.Replace("\"name\": \"reverse\"", $"\"name\": \"{name}\"")));
        Assert.Equal("tasks[1].name", ex.Field);
        Assert.Equal(problem, ex.Problem);
    }

    [Fact]
    public void DraftHalfNamedLikeAnEarlierTask()
    {
        // Refused in a /1 file too, where no task speculates: whether a name is legal does not depend on the plan.
        var ex = Assert.Throws<ModelLoadException>(() => Parse(ValidV1.Replace("\"name\": \"copy\"", "\"name\": \"reverse_draft\"")));
        Assert.Equal("tasks[1].name", ex.Field);
        Assert.Equal("'reverse' would name its draft half 'ReverseDraftPath' in generated code, the path class of the task 'reverse_draft'", ex.Problem);
    }

    [Theory]
    [InlineData("\"first.profile/2\"", "\"first.profile/9\"", "schema")]
    [InlineData("\"architecture\": \"llama\"", "\"architecture\": \"gpt2\"", "model.architecture")]
    [InlineData("\"n_layers\": 5", "\"n_layers\": -5", "n_layers")]
    [InlineData("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": [0, 2, 5]", "tasks[1] (reverse).kept_layers")]
    [InlineData("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": [2, 0]", "tasks[1] (reverse).kept_layers")]
    [InlineData("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": []", "tasks[1] (reverse).kept_layers")]
    [InlineData("\"skipped_layers\": [3]", "\"skipped_layers\": [2]", "tasks[0] (copy).skipped_layers")]
    [InlineData("\"mean_p\": [0.9, 0.8, 0.7, 0.2, 0.6]", "\"mean_p\": [0.9, 0.8]", "tasks[0] (copy).mean_p")]
    [InlineData("\"name\": \"reverse\"", "\"name\": \"Copy\"", "tasks[1].name")]
    [InlineData("\"name\": \"reverse\"", "\"name\": \"4ward\"", "tasks[1].name")]
    [InlineData("\"accuracy_full\": 1.0", "\"accuracy_full\": 1.5", "tasks[0] (copy).accuracy_full")]
    [InlineData("\"threshold\": 0.5", "\"threshold\": 2", "routers.threshold")]
    public void SchemaViolationsNameTheField(string from, string to, string field)
    {
        Assert.Contains(from, Valid);
        var ex = Assert.Throws<ModelLoadException>(() => ModelProfile.Parse(System.Text.Encoding.UTF8.GetBytes(Valid.Replace(from, to)), "p.first.json"));
        Assert.Equal("p.first.json", ex.FilePath);
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void InvalidJsonGivesTheLine()
    {
        var ex = Assert.Throws<ModelLoadException>(() => ModelProfile.Parse("{\n \"schema\": \"first.profile/1\",\n \"model\": {,}\n}"u8.ToArray(), "p.json"));
        Assert.Contains("line 3", ex.Message);
    }

    [Fact]
    public void UnknownTaskAndMismatchedModelAreClearErrors()
    {
        var profile = ModelProfile.Parse(System.Text.Encoding.UTF8.GetBytes(Valid), "p.first.json");
        var missing = Assert.Throws<KeyNotFoundException>(() => profile.Task("sort"));
        Assert.Contains("copy, reverse", missing.Message);

        var other = profile.Model with { NLayers = 6 };
        var ex = Assert.Throws<ModelLoadException>(() => profile.EnsureFits(other, "other.bin"));
        Assert.Contains("5 layers", ex.Message);
        profile.EnsureFits(profile.Model, "same.bin");
    }

    [Fact]
    public void MissingProfileFile()
    {
        var ex = Assert.Throws<ModelLoadException>(() => ModelProfile.Load("/nonexistent/x.first.json"));
        Assert.Contains("not found", ex.Message);
    }
}
