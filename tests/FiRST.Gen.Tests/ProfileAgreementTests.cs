using System.Text;
using FiRST.Gen.Parsing;
using FiRST.Runtime;
using FiRST.Runtime.Profiles;
using Shouldly;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Gen.Tests;

/// <summary>
/// The runtime's profile reader (<see cref="ModelProfile.Parse"/>) and the generator's parser
/// (<see cref="ModelSpecParser"/>) are two implementations of one schema (FiRST.Schema.ProfileSchema): the
/// build must accept exactly the profiles the runtime loads, or a build succeeds that fails at run time (or the
/// other way round). Every case here goes to both and the verdicts must agree.
/// </summary>
public sealed class ProfileAgreementTests(ITestOutputHelper output)
{
    private const string Source = "agreement.first.json";

    /// <summary>Runtime verdict; any exception other than <see cref="ModelLoadException"/> is a bug and fails the test.</summary>
    private static (bool Accepted, string Reason) Runtime(string json)
    {
        try
        {
            ModelProfile.Parse(Encoding.UTF8.GetBytes(json), Source);
            return (true, "");
        }
        catch (ModelLoadException e)
        {
            return (false, e.Message);
        }
    }

    /// <summary>Generator verdict, with the class name of <see cref="TestHelpers.ModelClass"/>'s tests.</summary>
    private static (bool Accepted, string Reason) Generator(string json)
    {
        var (spec, diagnostics) = ModelSpecParser.Parse(json, Source, "AgreementModel", null);
        return (spec is not null, string.Join("; ", diagnostics.Select(d => d.ToDiagnostic().GetMessage())));
    }

    private static string Task(string name, string kept, string extra = "") => Profiles.Task(name, kept, extra);

    private static string WithModel(string model, string tasks = "") => Profiles.WithTasks(tasks, model: "{ " + model + " }");

    private const string Shape =
        "\"architecture\": \"llama\", \"dim\": 64, \"hidden_dim\": 172, \"n_layers\": 5, \"n_heads\": 8, \"n_kv_heads\": 4, \"vocab_size\": 512, \"max_seq_len\": 512";

    /// <summary>The model section with <paramref name="field"/> replaced (or removed, for a null value).</summary>
    private static string ModelWith(string field, string? value)
    {
        var parts = Shape.Split(", ").Where(p => !p.StartsWith("\"" + field + "\"", StringComparison.Ordinal)).ToList();
        if (value != null) parts.Add("\"" + field + "\": " + value);
        return WithModel(string.Join(", ", parts), Task("\"copy\"", "[0, 1, 4]"));
    }

    private static string Routers(string routers) => $$"""
        { "schema": "first.profile/1", "model": {{Profiles.Model()}}, "routers": {{routers}}, "tasks": [{{Task("\"copy\"", "[0, 1]")}}] }
        """;

    private static string Nested(int depth) =>
        $$"""{ "schema": "first.profile/1", "model": {{Profiles.Model()}}, "tasks": [], "x": {{new string('[', depth - 1)}}{{new string(']', depth - 1)}} }""";

    /// <summary>Profiles both readers must reject.</summary>
    public static TheoryData<string, string> Bad => new()
    {
        { "schema version unknown", Profiles.WithTasks("", schema: "\"first.profile/3\"") },
        { "schema not a string", Profiles.WithTasks("", schema: "1") },
        { "schema missing", """{ "model": {}, "tasks": [] }""".Replace("{}", Profiles.Model()) },
        { "model missing", """{ "schema": "first.profile/1", "tasks": [] }""" },
        { "model not an object", """{ "schema": "first.profile/1", "model": [], "tasks": [] }""" },
        { "architecture unsupported", Profiles.WithTasks("", Profiles.Model(architecture: "\"mistral\"")) },
        { "dim 0", ModelWith("dim", "0") },
        { "dim negative", ModelWith("dim", "-64") },
        { "dim above the maximum", ModelWith("dim", (ModelConfig.MaxDimension * 2).ToString()) },
        { "dim not an integer", ModelWith("dim", "64.5") },
        { "dim a string", ModelWith("dim", "\"64\"") },
        { "dim beyond int32", ModelWith("dim", "4294967360") },
        { "hidden_dim missing", ModelWith("hidden_dim", null) },
        { "vocab_size above the maximum", ModelWith("vocab_size", (ModelConfig.MaxDimension + 1).ToString()) },
        { "n_layers above the maximum", ModelWith("n_layers", (ModelConfig.MaxLayers + 1).ToString()) },
        { "n_layers 0", WithModel(Shape.Replace("\"n_layers\": 5", "\"n_layers\": 0")) },
        { "heads do not divide dim", ModelWith("n_heads", "6") },
        { "odd head size", ModelWith("dim", "24") },
        { "n_kv_heads does not divide n_heads", ModelWith("n_kv_heads", "3") },
        { "n_kv_heads above n_heads", ModelWith("n_kv_heads", "16") },
        { "norm_eps 0", ModelWith("norm_eps", "0") },
        { "norm_eps 1", ModelWith("norm_eps", "1") },
        { "norm_eps null", ModelWith("norm_eps", "null") },
        { "shared_classifier null", ModelWith("shared_classifier", "null") },
        { "norm_eps a string", ModelWith("norm_eps", "\"small\"") },
        { "rope_theta 1", ModelWith("rope_theta", "1") },
        { "rope_theta overflows float", ModelWith("rope_theta", "1e300") },
        { "shared_classifier not a boolean", ModelWith("shared_classifier", "\"yes\"") },
        { "shared_classifier a number", ModelWith("shared_classifier", "0") },
        { "tasks missing", """{ "schema": "first.profile/1", "model": {}, "x": [] }""".Replace("{}", Profiles.Model()) },
        { "tasks not an array", """{ "schema": "first.profile/1", "model": {}, "tasks": {} }""".Replace("\"model\": {}", "\"model\": " + Profiles.Model()) },
        { "task not an object", Profiles.WithTasks("\"copy\"") },
        { "task name missing", Profiles.WithTasks("""{ "kept_layers": [0] }""") },
        { "task name a number", Profiles.WithTasks(Task("7", "[0]")) },
        { "task name empty", Profiles.WithTasks(Task("\"\"", "[0]")) },
        { "task name with a hyphen", Profiles.WithTasks(Task("\"four-digit\"", "[0]")) },
        { "task name starting with a digit", Profiles.WithTasks(Task("\"1st\"", "[0]")) },
        { "task name with a space", Profiles.WithTasks(Task("\"two words\"", "[0]")) },
        { "task name with a non-ASCII letter", Profiles.WithTasks(Task("\"caf\u00e9\"", "[0]")) },
        { "task name longer than the maximum", Profiles.WithTasks(Task("\"" + new string('a', 201) + "\"", "[0]")) },
        { "task names repeated", Profiles.WithTasks(Task("\"copy\"", "[0]") + ", " + Task("\"copy\"", "[1]")) },
        { "task names repeated ignoring case", Profiles.WithTasks(Task("\"copy\"", "[0]") + ", " + Task("\"COPY\"", "[1]")) },
        { "task name of underscores only", Profiles.WithTasks(Task("\"__\"", "[0]")) },
        { "task name reserved for the full path", Profiles.WithTasks(Task("\"full\"", "[0]")) },
        { "task names equal in generated code", Profiles.WithTasks(Task("\"a_b\"", "[0]") + ", " + Task("\"ab\"", "[1]")) },
        { "kept_layers missing", Profiles.WithTasks("""{ "name": "copy" }""") },
        { "kept_layers empty", Profiles.WithTasks(Task("\"copy\"", "[]")) },
        { "kept_layers not an array", Profiles.WithTasks(Task("\"copy\"", "\"0,1\"")) },
        { "kept_layers with a string", Profiles.WithTasks(Task("\"copy\"", "[0, \"1\"]")) },
        { "kept_layers with a fraction", Profiles.WithTasks(Task("\"copy\"", "[0, 1.5]")) },
        { "kept_layers past the last layer", Profiles.WithTasks(Task("\"copy\"", "[0, 5]")) },
        { "kept_layers negative", Profiles.WithTasks(Task("\"copy\"", "[-1, 0]")) },
        { "kept_layers descending", Profiles.WithTasks(Task("\"copy\"", "[2, 1]")) },
        { "kept_layers repeated", Profiles.WithTasks(Task("\"copy\"", "[1, 1]")) },
        { "skipped_layers not the complement", Profiles.WithTasks(Task("\"copy\"", "[0, 1]", "\"skipped_layers\": [2, 3]")) },
        { "skipped_layers out of order", Profiles.WithTasks(Task("\"copy\"", "[0, 2]", "\"skipped_layers\": [4, 3, 1]")) },
        { "skipped_layers not an array", Profiles.WithTasks(Task("\"copy\"", "[0, 2]", "\"skipped_layers\": 1")) },
        { "mean_p shorter than n_layers", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"mean_p\": [0.5, 0.5]")) },
        { "mean_p with a string", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"mean_p\": [0.5, 0.5, \"x\", 0.5, 0.5]")) },
        { "mean_p not an array", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"mean_p\": 0.5")) },
        { "mean_p beyond double's range", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"mean_p\": [0.5, 0.5, 1e999, 0.5, 0.5]")) },
        { "accuracy_full above 1", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"accuracy_full\": 1.5")) },
        { "agreement negative", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"agreement\": -0.1")) },
        { "accuracy_masked a string", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"accuracy_masked\": \"high\"")) },
        { "speedup a string", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"speedup\": \"fast\"")) },
        { "ms_per_token_full a boolean", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"ms_per_token_full\": true")) },
        { "prompts negative", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"prompts\": -1")) },
        { "prompts a fraction", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"prompts\": 2.5")) },
        { "routers threshold above 1", Routers("""{ "file": "r.bin", "threshold": 1.5 }""") },
        { "routers threshold negative", Routers("""{ "file": "r.bin", "threshold": -0.5 }""") },
        { "routers threshold a string", Routers("""{ "file": "r.bin", "threshold": "half" }""") },
        { "routers file missing", Routers("""{ "threshold": 0.5 }""") },
        { "routers file not a string", Routers("""{ "file": 3, "threshold": 0.5 }""") },
        { "routers not an object", Routers("\"r.bin\"") },
        { "top level an array", "[]" },
        { "empty text", "" },
        { "trailing comma", Profiles.WithTasks(Task("\"copy\"", "[0]") + ",") },
        { "comment", "// profile\n" + Profiles.WithTasks("") },
        { "duplicate property", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"name\": \"other\"")) },
        { "nested deeper than the limit", Nested(FiRST.Gen.Tests.ProfileAgreementTests.MaxDepth + 1) },
        { "early_exit in a first.profile/1 file", Profiles.WithTasks(Task("\"copy\"", "[0, 1, 2]", Exit("null, 0.9, null, null, null"))) },
        { "speculation in a first.profile/1 file", Profiles.WithTasks(Task("\"copy\"", "[0, 1, 2]", Plan("1", "4"))) },
        { "thresholds shorter than n_layers", V2(Exit("0.9, null")) },
        { "thresholds longer than n_layers", V2(Exit("null, 0.9, null, null, null, null")) },
        { "thresholds empty", V2(Exit("")) },
        { "threshold 0", V2(Exit("null, 0, null, null, null")) },
        { "threshold 1.5", V2(Exit("null, 1.5, null, null, null")) },
        { "threshold just above 1", V2(Exit("null, 1.0000001, null, null, null")) },
        { "threshold negative", V2(Exit("null, -0.5, null, null, null")) },
        { "threshold that is 0 as a float", V2(Exit("null, 1e-50, null, null, null")) },
        { "threshold a string", V2(Exit("null, \"0.9\", null, null, null")) },
        { "threshold a boolean", V2(Exit("null, true, null, null, null")) },
        { "thresholds all null", V2(Exit("null, null, null, null, null")) },
        { "thresholds missing", V2("\"early_exit\": { }") },
        { "thresholds not an array", V2("\"early_exit\": { \"thresholds\": 0.9 }") },
        { "early_exit an array", V2("\"early_exit\": [null, 0.9, null, null, null]") },
        { "draft_layers 0", V2(Plan("0", "4")) },
        { "draft_layers negative", V2(Plan("-1", "4")) },
        { "draft_layers the kept count", V2(Plan("3", "4")) },
        { "draft_layers above the kept count", V2(Plan("4", "4")) },
        { "draft_layers a fraction", V2(Plan("1.5", "4")) },
        { "draft_layers written 2.0", V2(Plan("2.0", "4")) },
        { "draft_layers a string", V2(Plan("\"2\"", "4")) },
        { "draft_layers missing", V2("\"speculation\": { \"lookahead\": 4 }") },
        { "lookahead 0", V2(Plan("1", "0")) },
        { "lookahead 33", V2(Plan("1", "33")) },
        { "lookahead beyond int32", V2(Plan("1", "4294967297")) },
        { "lookahead a string", V2(Plan("1", "\"4\"")) },
        { "lookahead missing", V2("\"speculation\": { \"draft_layers\": 1 }") },
        { "speculation a string", V2("\"speculation\": \"1:4\"") },
        { "speculation on a task of one layer", Profiles.V2WithTasks(Task("\"copy\"", "[0]", Plan("1", "4"))) },
        { "task path named like another task's draft half", Profiles.V2WithTasks(Task("\"copy\"", "[0, 1]") + ", " + Task("\"copy_draft\"", "[0]")) },
        { "draft half named like an earlier task's path", Profiles.V2WithTasks(Task("\"copy_draft\"", "[0]") + ", " + Task("\"copy\"", "[0, 1]", Plan("1", "2"))) },
        { "draft-half clash ignoring case", Profiles.WithTasks(Task("\"COPY_DRAFT\"", "[0]") + ", " + Task("\"copy\"", "[0, 1]")) },
        { "rope_scaling in a first.profile/1 file", Profiles.WithTasks("", Profiles.Model().Replace("\"max_seq_len\": 512", "\"max_seq_len\": 512, " + Rope("\"type\": \"linear\", \"factor\": 2"))) },
        { "rope_scaling yarn", WithRope("\"type\": \"yarn\", \"factor\": 4") },
        { "rope_scaling dynamic", WithRope("\"type\": \"dynamic\", \"factor\": 2") },
        { "rope_scaling type missing", WithRope("\"factor\": 2") },
        { "rope_scaling type a number", WithRope("\"type\": 3") },
        { "rope_scaling a string", V2Model(", \"rope_scaling\": \"llama3\"") },
        { "rope_scaling unknown parameter", WithRope("\"type\": \"linear\", \"factor\": 2, \"beta_fast\": 32") },
        { "rope_scaling linear factor below 1", WithRope("\"type\": \"linear\", \"factor\": 0.5") },
        { "rope_scaling linear factor missing", WithRope("\"type\": \"linear\"") },
        { "rope_scaling linear factor a string", WithRope("\"type\": \"linear\", \"factor\": \"2\"") },
        { "rope_scaling linear with a llama3 parameter", WithRope("\"type\": \"linear\", \"factor\": 2, \"low_freq_factor\": 1") },
        { "rope_scaling default with a factor", WithRope("\"type\": \"default\", \"factor\": 2") },
        { "rope_scaling llama3 high not above low", WithRope(Llama3("32", "4", "4", "8192")) },
        { "rope_scaling llama3 low 0", WithRope(Llama3("32", "0", "4", "8192")) },
        { "rope_scaling llama3 original 0", WithRope(Llama3("32", "1", "4", "0")) },
        { "rope_scaling llama3 original a fraction", WithRope(Llama3("32", "1", "4", "8192.5")) },
        { "rope_scaling llama3 original missing", WithRope("\"type\": \"llama3\", \"factor\": 32, \"low_freq_factor\": 1, \"high_freq_factor\": 4") },
        { "rope_scaling llama3 factor beyond double", WithRope(Llama3("1e999", "1", "4", "8192")) },
        { "draft-half clash without an underscore", Profiles.WithTasks(Task("\"copy\"", "[0, 1]") + ", " + Task("\"copyDraft\"", "[0]")) },
    };

    /// <summary>A task's <c>early_exit</c> with the given thresholds (the text between <c>[</c> and <c>]</c>).</summary>
    private static string Exit(string thresholds) => $$"""
        "early_exit": { "thresholds": [{{thresholds}}] }
        """;

    /// <summary>A task's <c>speculation</c> with the given numbers, as written.</summary>
    private static string Plan(string draftLayers, string lookahead) => $$"""
        "speculation": { "draft_layers": {{draftLayers}}, "lookahead": {{lookahead}} }
        """;

    /// <summary>A first.profile/2 profile whose one task (copy, layers 0 to 2) has <paramref name="extra"/>.</summary>
    private static string V2(string extra) => Profiles.V2WithTasks(Task("\"copy\"", "[0, 1, 2]", extra));

    /// <summary>A <c>rope_scaling</c> member with the given object body.</summary>
    private static string Rope(string body) => "\"rope_scaling\": { " + body + " }";

    /// <summary>A first.profile/2 profile whose model block ends with <paramref name="extra"/>.</summary>
    private static string V2Model(string extra) =>
        Profiles.WithTasks(Task("\"copy\"", "[0, 1]"), Profiles.Model().Replace("\"max_seq_len\": 512", "\"max_seq_len\": 512" + extra), schema: Profiles.V2);

    /// <summary>A first.profile/2 profile whose model has the given <c>rope_scaling</c> body.</summary>
    private static string WithRope(string body) => V2Model(", " + Rope(body));

    private static string Llama3(string factor, string low, string high, string original) =>
        $"\"type\": \"llama3\", \"factor\": {factor}, \"low_freq_factor\": {low}, \"high_freq_factor\": {high}, \"original_max_position_embeddings\": {original}";

    /// <summary>Profiles both readers must accept.</summary>
    public static TheoryData<string, string> Good => new()
    {
        { "stories260K", TestHelpers.Input("stories260K.first.json") },
        { "llama2-7b", TestHelpers.Input("llama2-7b.first.json") },
        { "demo model", TestHelpers.Input("demo.first.json") },
        { "no tasks", Profiles.WithTasks("") },
        { "only required fields", Profiles.WithTasks(Task("\"copy\"", "[0]")) },
        { "dim at the maximum", WithModel(Shape.Replace("\"dim\": 64", "\"dim\": " + ModelConfig.MaxDimension)) },
        { "n_layers at the maximum", WithModel(Shape.Replace("\"n_layers\": 5", "\"n_layers\": " + ModelConfig.MaxLayers), Task("\"copy\"", "[0, 4095]")) },
        { "multi-query attention", ModelWith("n_kv_heads", "1") },
        { "shared_classifier false", ModelWith("shared_classifier", "false") },
        { "task name at the maximum length", Profiles.WithTasks(Task("\"" + new string('a', 200) + "\"", "[0]")) },
        { "task name one underscore and a digit", Profiles.WithTasks(Task("\"_1\"", "[0]")) },
        { "task names with underscores and digits", Profiles.WithTasks(Task("\"_x1\"", "[0]") + ", " + Task("\"four_digit_add\"", "[1, 2]")) },
        { "tasks with the same mask", Profiles.WithTasks(Task("\"copy\"", "[0, 2]") + ", " + Task("\"echo\"", "[0, 2]")) },
        { "skipped_layers and mean_p null", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"skipped_layers\": null, \"mean_p\": null")) },
        { "skipped_layers empty for a full mask", Profiles.WithTasks(Task("\"copy\"", "[0, 1, 2, 3, 4]", "\"skipped_layers\": []")) },
        { "measurements at their bounds", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"accuracy_full\": 0, \"accuracy_masked\": 1, \"agreement\": 1, \"prompts\": 0, \"speedup\": 0.5, \"ms_per_token_full\": 3, \"ms_per_token_masked\": 2")) },
        { "measurements null", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"accuracy_full\": null, \"prompts\": null, \"speedup\": null")) },
        { "routers at threshold 0", Routers("""{ "file": "r.bin", "threshold": 0 }""") },
        { "routers at threshold 1", Routers("""{ "file": "r.bin", "threshold": 1 }""") },
        { "routers without threshold", Routers("""{ "file": "r.bin" }""") },
        { "routers null", Routers("null") },
        { "unknown fields", Profiles.WithTasks(Task("\"copy\"", "[0]", "\"notes\": { \"by\": \"calibrate\" }")).Replace("\"tasks\"", "\"created\": \"2025-01-01\", \"tasks\"") },
        { "nested to the limit", Nested(FiRST.Gen.Tests.ProfileAgreementTests.MaxDepth) },
        { "byte-order mark", "\uFEFF" + Profiles.WithTasks(Task("\"copy\"", "[0]")) },
        { "demo model with speculation and early exit", TestHelpers.Input("demo-speculative.first.json") },
        { "first.profile/2 without the new fields", Profiles.V2WithTasks(Task("\"copy\"", "[0, 1]")) },
        { "early_exit and speculation null in a first.profile/1 file", Profiles.WithTasks(Task("\"copy\"", "[0, 1]", "\"early_exit\": null, \"speculation\": null")) },
        { "early_exit and speculation null", V2("\"early_exit\": null, \"speculation\": null") },
        { "thresholds at their bounds", V2(Exit("1, 1e-30, null, null, 0.5")) },
        { "threshold after the last layer", V2(Exit("null, null, null, null, 0.99")) },
        { "draft_layers 1 and lookahead 1", V2(Plan("1", "1")) },
        { "draft_layers the kept count less one and lookahead 32", V2(Plan("2", "32")) },
        { "both fields, with unknown fields inside", V2(Exit("null, 0.9, null, null, null").Replace("] }", "], \"by\": \"calibrate\" }") + ", " + Plan("1", "4").Replace("4 }", "4, \"accepted\": 0.7 }")) },
        { "two tasks of one mask with different plans", Profiles.V2WithTasks(Task("\"copy\"", "[0, 1, 2]", Plan("1", "4")) + ", " + Task("\"echo\"", "[0, 1, 2]", Plan("2", "8"))) },
        { "rope_scaling null", V2Model(", \"rope_scaling\": null") },
        { "rope_scaling default", WithRope("\"type\": \"default\"") },
        { "rope_scaling linear", WithRope("\"type\": \"linear\", \"factor\": 4") },
        { "rope_scaling llama3", WithRope(Llama3("32", "1", "4", "8192")) },
        { "rope_scaling llama3 written as floats", WithRope(Llama3("8.0", "1.0", "4.0", "8192")) },
        { "llama3.2-1b", TestHelpers.Input("llama3.2-1b.first.json") },
        { "a task named like a draft half without its task", Profiles.V2WithTasks(Task("\"copy_draft\"", "[0]") + ", " + Task("\"draft\"", "[1]") + ", " + Task("\"copy_drafts\"", "[2]")) },
    };

    /// <summary>Deepest nesting a profile may have (the schema's limit; the test cannot see the internal constant).</summary>
    internal const int MaxDepth = 32;

    [Theory]
    [MemberData(nameof(Bad))]
    public void Both_readers_reject(string name, string json)
    {
        var runtime = Runtime(json);
        var generator = Generator(json);
        output.WriteLine($"runtime: {runtime.Reason}\ngenerator: {generator.Reason}");
        runtime.Accepted.ShouldBeFalse($"{name}: the runtime accepted it");
        generator.Accepted.ShouldBeFalse($"{name}: the generator accepted it");
    }

    [Theory]
    [MemberData(nameof(Good))]
    public void Both_readers_accept(string name, string json)
    {
        var runtime = Runtime(json);
        var generator = Generator(json);
        runtime.Accepted.ShouldBeTrue($"{name}: the runtime rejected it: {runtime.Reason}");
        generator.Accepted.ShouldBeTrue($"{name}: the generator rejected it: {generator.Reason}");
    }

    [Theory]
    [InlineData("stories260K.first.json")]
    [InlineData("demo-speculative.first.json")]
    public void Both_readers_give_the_same_verdict_on_damaged_profiles(string input)
    {
        // The fixed cases above cover the rules one by one; random damage to a full profile finds the
        // combinations nobody listed. Same seed and mutations as FuzzTests, so failures reproduce; the second
        // input damages first.profile/2's fields too.
        string valid = TestHelpers.Input(input);
        var random = new Random(20240611);
        int accepted = 0, rejected = 0;
        var disagreements = new List<string>();
        for (int i = 0; i < 3000; i++)
        {
            string text = FuzzTests.Mutate(valid, random);
            var runtime = Runtime(text);
            var generator = Generator(text);
            if (runtime.Accepted != generator.Accepted)
                disagreements.Add($"iteration {i}: runtime {(runtime.Accepted ? "accepted" : "rejected: " + runtime.Reason)}, generator {(generator.Accepted ? "accepted" : "rejected: " + generator.Reason)}\n{text}");
            else if (runtime.Accepted) accepted++;
            else rejected++;
        }
        foreach (string d in disagreements.Take(10)) output.WriteLine(d);
        disagreements.ShouldBeEmpty($"{disagreements.Count} disagreements; the first: {disagreements.FirstOrDefault()}");
        accepted.ShouldBeGreaterThan(20);
        rejected.ShouldBeGreaterThan(500);
    }
}
