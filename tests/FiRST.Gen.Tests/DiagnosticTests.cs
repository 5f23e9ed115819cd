using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>
/// One test per diagnostic: the id, the severity (always an error), the location (the attribute's argument,
/// or the attribute for problems with the class itself), and that nothing is generated.
/// </summary>
public sealed class DiagnosticTests
{
    private const string ModelPath = "models/demo.first.json";
    private static readonly string Source = TestHelpers.ModelClass("DemoModel", ModelPath);

    private static Diagnostic SingleError(string source, string id, params AdditionalText[] texts)
    {
        var run = TestHelpers.Run(source, texts);
        run.Result.GeneratedSources.ShouldBeEmpty();
        var diagnostic = run.Diagnostics.ShouldHaveSingleItem();
        diagnostic.Id.ShouldBe(id, diagnostic.ToString());
        diagnostic.Severity.ShouldBe(DiagnosticSeverity.Error);
        diagnostic.Descriptor.Category.ShouldBe("FiRST");
        return diagnostic;
    }

    private static Diagnostic ProfileError(string json, string id)
    {
        var diagnostic = SingleError(Source, id, new InMemoryAdditionalText("/repo/app/" + ModelPath, json));
        ShouldPointAtArgument(diagnostic, Source, ModelPath);
        return diagnostic;
    }

    private static void ShouldPointAtArgument(Diagnostic diagnostic, string source, string path)
    {
        int start = source.IndexOf("\"" + path + "\"", StringComparison.Ordinal);
        // The generator keeps locations as values and rebuilds them as file locations of the same tree.
        diagnostic.Location.GetLineSpan().Path.ShouldBe("Source0.cs");
        diagnostic.Location.SourceSpan.ShouldBe(new TextSpan(start, path.Length + 2));
        diagnostic.Location.GetLineSpan().StartLinePosition.Line.ShouldBe(LineOf(source, start));
    }

    private static void ShouldPointAtAttribute(Diagnostic diagnostic, string source)
    {
        int start = source.IndexOf("FiRST.FiRSTModel(", StringComparison.Ordinal);
        int end = source.IndexOf(")]", start, StringComparison.Ordinal) + 1;
        diagnostic.Location.SourceSpan.ShouldBe(TextSpan.FromBounds(start, end));
        diagnostic.Location.GetLineSpan().StartLinePosition.Line.ShouldBe(LineOf(source, start));
    }

    private static int LineOf(string text, int position) => text.Take(position).Count(c => c == '\n');

    [Fact]
    public void FIRST001_file_not_among_additional_files()
    {
        var diagnostic = SingleError(Source, "FIRST001", new InMemoryAdditionalText("/repo/app/models/other.first.json", "{}"));
        ShouldPointAtArgument(diagnostic, Source, ModelPath);
        string message = diagnostic.GetMessage();
        message.ShouldContain($"<AdditionalFiles Include=\"{ModelPath}\" />");
        message.ShouldContain("**/*.first.json");
    }

    [Fact]
    public void FIRST001_a_path_is_matched_only_at_a_folder_boundary()
    {
        SingleError(Source, "FIRST001", new InMemoryAdditionalText("/repo/app/mymodels/demo.first.json", Profiles.WithTasks("")));
    }

    [Fact]
    public void FIRST002_invalid_json_names_line_and_column()
    {
        const string json = "{\n  \"schema\": \"first.profile/1\",\n  \"model\": { \"dim\": 64,, }\n}\n";
        var diagnostic = ProfileError(json, "FIRST002");
        diagnostic.GetMessage().ShouldContain("line 3, column 24");
    }

    [Theory]
    [InlineData("{ \"schema\": \"first.profile/1\"", "unexpected end of file")]
    [InlineData("{ \"a\": 1, \"a\": 2 }", "duplicate property")]
    [InlineData("{ \"a\": tru }", "expected a value")]
    [InlineData("{ \"a\": 1e999 }", "out of range")]
    [InlineData("{ \"a\": \"\\x\" }", "invalid escape")]
    public void FIRST002_reports_what_is_wrong(string json, string expected)
    {
        ProfileError(json, "FIRST002").GetMessage().ShouldContain(expected);
    }

    [Fact]
    public void FIRST002_deep_nesting_is_an_error_not_a_stack_overflow()
    {
        string json = new string('[', 100_000) + new string(']', 100_000);
        ProfileError(json, "FIRST002").GetMessage().ShouldContain("nested deeper than 64");
    }

    [Theory]
    [InlineData("[0, 5]", "", "outside [0, 5)")]
    [InlineData("[0, -1]", "", "outside [0, 5)")]
    [InlineData("[0, 1, 1]", "", "twice")]
    [InlineData("[2, 1]", "", "ascending")]
    [InlineData("[0, 1.5]", "", "must be a layer index")]
    [InlineData("\"0,1\"", "", "must be an array")]
    [InlineData("[0, 1]", "\"skipped_layers\": [2, 3]", "not the complement")]
    [InlineData("[0, 1]", "\"skipped_layers\": [1, 2, 3, 4]", "not the complement")]
    [InlineData("[0, 1]", "\"mean_p\": [0.9, 0.8]", "mean_p has 2 entries but the model has 5 layers")]
    public void FIRST003_mask_that_does_not_fit_the_model(string kept, string extra, string expected)
    {
        var diagnostic = ProfileError(Profiles.WithTasks(Profiles.Task("\"copy\"", kept, extra)), "FIRST003");
        diagnostic.GetMessage().ShouldContain(expected);
        diagnostic.GetMessage().ShouldContain("'copy'");
    }

    [Theory]
    [InlineData("public class DemoModel { }", "not partial")]
    [InlineData("public partial class DemoModel<T> { }", "generic")]
    [InlineData("public partial class Outer { /// <summary>x</summary>\n[FiRST.FiRSTModel(\"models/demo.first.json\")] public partial class DemoModel { } }", "nested")]
    [InlineData("public partial class Config { }", "generated member")]
    public void FIRST004_class_that_cannot_be_generated(string declaration, string expected)
    {
        string source = declaration.StartsWith("public partial class Outer", StringComparison.Ordinal)
            ? "namespace Demo;\n\n/// <summary>x</summary>\n" + declaration
            : "namespace Demo;\n\n/// <summary>x</summary>\n[FiRST.FiRSTModel(\"models/demo.first.json\")]\n" + declaration;
        var diagnostic = SingleError(source, "FIRST004", new InMemoryAdditionalText("/repo/app/" + ModelPath, Profiles.WithTasks("")));
        ShouldPointAtAttribute(diagnostic, source);
        diagnostic.GetMessage().ShouldContain(expected);
    }

    [Theory]
    [InlineData("\"copy\"", "\"Copy\"", "repeats the task 'copy'")]
    [InlineData("\"a_b\"", "\"AB\"", "becomes 'AB'")]
    [InlineData("\"copy\"", "\"four-digit\"", "not a C# identifier")]
    [InlineData("\"copy\"", "\"1st\"", "not a C# identifier")]
    [InlineData("\"copy\"", "\"\"", "not a C# identifier")]
    [InlineData("\"copy\"", "\"___\"", "no letter or digit")]
    [InlineData("\"copy\"", "42", "must be a string")]
    [InlineData("\"copy\"", "\"full\"", "FullPath")]
    [InlineData("\"copy\"", "\"copy_draft\"", "path class 'CopyDraftPath' would be the draft half of the task 'copy'")]
    [InlineData("\"copy_draft\"", "\"copy\"", "draft half would be 'CopyDraftPath', the path class of the task 'copy_draft'")]
    public void FIRST005_invalid_or_duplicate_task_names(string first, string second, string expected)
    {
        var diagnostic = ProfileError(
            Profiles.WithTasks(Profiles.Task(first, "[0, 1]") + ", " + Profiles.Task(second, "[0, 2]")), "FIRST005");
        diagnostic.GetMessage().ShouldContain(expected);
    }

    [Theory]
    [InlineData("{ \"schema\": \"first.profile/3\", \"model\": {}, \"tasks\": [] }", "\"first.profile/3\" is not supported")]
    [InlineData("{ \"foo\": 1 }", "neither a FiRST profile")]
    [InlineData("[1, 2]", "top level")]
    [InlineData("{ \"hidden_size\": 2048, \"model_type\": \"mistral\" }", "model_type \"mistral\"")]
    [InlineData("{ \"hidden_size\": 2048, \"intermediate_size\": 5632 }", "num_attention_heads is missing")]
    public void FIRST006_unsupported_model_description(string json, string expected)
    {
        ProfileError(json, "FIRST006").GetMessage().ShouldContain(expected);
    }

    [Theory]
    [InlineData("64", "4", "\"gpt2\"", "architecture \"gpt2\"")]
    [InlineData("65", "4", "\"llama\"", "not divisible by n_heads")]
    [InlineData("64", "3", "\"llama\"", "multiple of n_kv_heads")]
    [InlineData("0", "4", "\"llama\"", "dim must be between 1 and")]
    [InlineData("64.0", "4", "\"llama\"", "must be a 32-bit integer")]
    [InlineData("99999999999", "4", "\"llama\"", "must be a 32-bit integer")]
    public void FIRST006_invalid_model_numbers(string dim, string kvHeads, string architecture, string expected)
    {
        ProfileError(Profiles.WithTasks("", Profiles.Model(dim, kvHeads, architecture)), "FIRST006").GetMessage().ShouldContain(expected);
    }

    [Theory]
    [InlineData("{ \"type\": \"yarn\", \"factor\": 4 }", "'yarn' is not supported")]
    [InlineData("{ \"type\": \"llama3\", \"factor\": 32, \"low_freq_factor\": 4, \"high_freq_factor\": 1, \"original_max_position_embeddings\": 8192 }", "model.rope_scaling.high_freq_factor")]
    [InlineData("{ \"type\": \"llama3\", \"factor\": 32, \"low_freq_factor\": 1, \"high_freq_factor\": 4 }", "original_max_position_embeddings is missing")]
    [InlineData("{ \"type\": \"linear\", \"factor\": 0.5 }", "model.rope_scaling.factor: expected a number from 1")]
    [InlineData("{ \"type\": \"linear\", \"factor\": 2, \"beta_fast\": 32 }", "beta_fast is not a parameter of \"linear\" RoPE scaling")]
    public void FIRST006_invalid_rope_scaling(string scaling, string expected)
    {
        string json = Profiles.WithTasks("", Profiles.Model().Replace("\"max_seq_len\": 512", "\"max_seq_len\": 512, \"rope_scaling\": " + scaling), schema: Profiles.V2);
        ProfileError(json, "FIRST006").GetMessage().ShouldContain(expected);
    }

    [Theory]
    [InlineData("\"rope_scaling\": { \"rope_type\": \"dynamic\", \"factor\": 2.0 }", "\"dynamic\": this RoPE scaling is not supported")]
    [InlineData("\"rope_theta\": 10000, \"rope_parameters\": { \"rope_type\": \"default\", \"rope_theta\": 500000 }", "rope_parameters.rope_theta 500000 disagrees with rope_theta 10000")]
    [InlineData("\"pretraining_tp\": 2", "pretraining_tp 2 is not supported")]
    [InlineData("\"head_dim\": 128", "head_dim 128 is not supported")]
    [InlineData("\"hidden_act\": \"gelu\"", "hidden_act \"gelu\" is not supported")]
    public void FIRST006_config_json_settings_that_change_the_math(string extra, string expected)
    {
        string json = "{ \"hidden_size\": 64, \"intermediate_size\": 172, \"num_hidden_layers\": 2, \"num_attention_heads\": 8, " +
                      "\"vocab_size\": 512, \"max_position_embeddings\": 512, " + extra + " }";
        ProfileError(json, "FIRST006").GetMessage().ShouldContain(expected);
    }

    [Fact]
    public void FIRST005_draft_half_named_like_the_class()
    {
        string source = TestHelpers.ModelClass("CopyDraftPath", ModelPath);
        var diagnostic = SingleError(source, "FIRST005", new InMemoryAdditionalText("/repo/app/" + ModelPath, Profiles.WithTasks(Profiles.Task("\"copy\"", "[0, 1]"))));
        ShouldPointAtArgument(diagnostic, source, ModelPath);
        diagnostic.GetMessage().ShouldContain("draft half 'CopyDraftPath' would have the name of the class it is nested in");
    }

    [Theory]
    [InlineData("first.profile/2", "\"thresholds\": [0.9, null]", "has 2 entries but the model has 5 layers")]
    [InlineData("first.profile/2", "\"thresholds\": [null, null, null, null, null, null]", "has 6 entries but the model has 5 layers")]
    [InlineData("first.profile/2", "\"thresholds\": [null, 0, null, null, null]", "thresholds[1] must be null or a number in (0, 1], found 0")]
    [InlineData("first.profile/2", "\"thresholds\": [null, null, 1.5, null, null]", "thresholds[2] must be null or a number in (0, 1], found 1.5")]
    [InlineData("first.profile/2", "\"thresholds\": [null, null, 1e-50, null, null]", "found 1e-50")]
    [InlineData("first.profile/2", "\"thresholds\": [\"0.9\", null, null, null, null]", "found \"0.9\"")]
    [InlineData("first.profile/2", "\"thresholds\": [null, null, null, null, null]", "every entry of early_exit.thresholds is null")]
    [InlineData("first.profile/2", "\"thresholds\": 0.9", "must be an array, found a number")]
    [InlineData("first.profile/2", "", "early_exit.thresholds is missing")]
    [InlineData("first.profile/1", "\"thresholds\": [null, 0.9, null, null, null]", "early_exit needs schema \"first.profile/2\"; this file is \"first.profile/1\"")]
    public void FIRST009_early_exit_thresholds_that_cannot_be_used(string schema, string body, string expected)
    {
        var diagnostic = ProfileError(
            Profiles.WithTasks(Profiles.Task("\"copy\"", "[0, 1, 2]", "\"early_exit\": { " + body + " }"), schema: "\"" + schema + "\""), "FIRST009");
        diagnostic.GetMessage().ShouldContain(expected);
        diagnostic.GetMessage().ShouldContain("Task 'copy'");
    }

    [Theory]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"draft_layers\": 0, \"lookahead\": 4", "draft_layers must be from 1 to 2 (the draft runs the first E of the task's 3 kept layers")]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"draft_layers\": 3, \"lookahead\": 4", "found 3")]
    [InlineData("first.profile/2", "[0]", "\"draft_layers\": 1, \"lookahead\": 4", "the task keeps 1 layer")]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"draft_layers\": 1.5, \"lookahead\": 4", "draft_layers must be an integer, found 1.5")]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"lookahead\": 4", "draft_layers is missing")]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"draft_layers\": 1, \"lookahead\": 0", "lookahead must be from 1 to 32")]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"draft_layers\": 1, \"lookahead\": 33", "found 33")]
    [InlineData("first.profile/2", "[0, 1, 2]", "\"draft_layers\": 1, \"lookahead\": \"4\"", "lookahead must be an integer, found \"4\"")]
    [InlineData("first.profile/1", "[0, 1, 2]", "\"draft_layers\": 1, \"lookahead\": 4", "speculation needs schema \"first.profile/2\"")]
    public void FIRST010_speculation_plan_that_cannot_be_used(string schema, string kept, string body, string expected)
    {
        var diagnostic = ProfileError(
            Profiles.WithTasks(Profiles.Task("\"copy\"", kept, "\"speculation\": { " + body + " }"), schema: "\"" + schema + "\""), "FIRST010");
        diagnostic.GetMessage().ShouldContain(expected);
        diagnostic.GetMessage().ShouldContain("Task 'copy'");
    }

    [Fact]
    public void FIRST010_speculation_that_is_not_an_object()
    {
        ProfileError(Profiles.V2WithTasks(Profiles.Task("\"copy\"", "[0, 1]", "\"speculation\": \"1:4\"")), "FIRST010")
            .GetMessage().ShouldContain("speculation must be an object with draft_layers and lookahead, found a string");
    }

    [Fact]
    public void FIRST011_one_task_build_of_a_task_the_profile_lacks()
    {
        string source = Source.Replace("(\"" + ModelPath + "\")", "(\"" + ModelPath + "\", Task = \"sort\")");
        var diagnostic = SingleError(source, "FIRST011",
            new InMemoryAdditionalText("/repo/app/" + ModelPath, Profiles.WithTasks(Profiles.Task("\"copy\"", "[0, 1]") + ", " + Profiles.Task("\"add\"", "[0, 2]"))));
        // At the Task argument, naming the profile's tasks.
        int start = source.IndexOf("Task = \"sort\"", StringComparison.Ordinal);
        diagnostic.Location.SourceSpan.ShouldBe(new TextSpan(start, "Task = \"sort\"".Length));
        diagnostic.GetMessage().ShouldBe($"Task 'sort' is not in '{ModelPath}': its tasks are copy, add");
    }

    [Fact]
    public void FIRST007_task_that_skips_every_layer()
    {
        var diagnostic = ProfileError(Profiles.WithTasks(Profiles.Task("\"nothing\"", "[]", "\"skipped_layers\": [0, 1, 2, 3, 4]")), "FIRST007");
        diagnostic.GetMessage().ShouldContain("'nothing'");
    }

    /// <summary>
    /// Runs the generator on a valid profile with an exception planted in <paramref name="step"/> (through the
    /// generator's test seam) and checks that the driver saw no exception: an exception escaping a generator
    /// becomes the compiler's warning CS8785 and drops all its output, which FIRST008 exists to prevent.
    /// </summary>
    private static GeneratorRunResult RunWithFault(string step)
    {
        FiRSTModelGenerator.FaultForTests.Value = (s, className) =>
        {
            if (s == step) throw new InvalidOperationException($"planted in {s} of {className}");
        };
        try
        {
            var driver = TestHelpers.CreateDriver(new InMemoryAdditionalText("/repo/app/" + ModelPath, Profiles.WithTasks(Profiles.Task("\"copy\"", "[0, 1]"))));
            driver = driver.RunGeneratorsAndUpdateCompilation(TestHelpers.CreateCompilation(Source), out _, out var driverDiagnostics);
            var result = driver.GetRunResult().Results.ShouldHaveSingleItem();
            result.Exception.ShouldBeNull();
            driverDiagnostics.ShouldNotContain(d => d.Id == "CS8785");
            result.GeneratedSources.ShouldBeEmpty();
            return result;
        }
        finally
        {
            FiRSTModelGenerator.FaultForTests.Value = null;
        }
    }

    [Fact]
    public void FIRST008_a_failure_while_parsing_is_a_diagnostic_at_the_argument()
    {
        var diagnostic = RunWithFault("parse").Diagnostics.ShouldHaveSingleItem();
        diagnostic.Id.ShouldBe("FIRST008");
        diagnostic.Severity.ShouldBe(DiagnosticSeverity.Error);
        ShouldPointAtArgument(diagnostic, Source, ModelPath);
        diagnostic.GetMessage().ShouldBe($"The FiRST generator failed on '{ModelPath}': InvalidOperationException: planted in parse of DemoModel");
    }

    [Fact]
    public void FIRST008_a_failure_while_emitting_is_a_diagnostic_naming_the_class()
    {
        var diagnostic = RunWithFault("emit").Diagnostics.ShouldHaveSingleItem();
        diagnostic.Id.ShouldBe("FIRST008");
        diagnostic.Severity.ShouldBe(DiagnosticSeverity.Error);
        // The emit step holds no location by design (see FiRSTModelGenerator.Emit); the message names the class.
        diagnostic.Location.ShouldBe(Location.None);
        diagnostic.GetMessage().ShouldBe($"The FiRST generator failed on '{ModelPath}': emitting class DemoModel: InvalidOperationException: planted in emit of DemoModel");
    }

    /// <summary>An additional file whose host cannot read it and throws (the compiler's own reader reports and returns null; other hosts may not).</summary>
    private sealed class UnreadableText(string path) : AdditionalText
    {
        public override string Path => path;

        public override SourceText GetText(CancellationToken cancellationToken = default) =>
            throw new IOException("the disk is gone");
    }

    [Fact]
    public void A_host_that_throws_reading_the_file_gives_a_diagnostic_not_an_exception()
    {
        // A genuine failure outside the guarded steps: the text is read where every additional file is.
        var diagnostic = SingleError(Source, "FIRST006", new UnreadableText("/repo/app/" + ModelPath));
        ShouldPointAtArgument(diagnostic, Source, ModelPath);
        diagnostic.GetMessage().ShouldContain("could not be read");
        diagnostic.GetMessage().ShouldContain("IOException: the disk is gone");
    }

    [Fact]
    public void Without_a_planted_fault_the_same_input_generates()
    {
        // The control for the FIRST008 tests: their input is valid, so the fault alone makes them fail.
        TestHelpers.RunAndCompile(Source, new InMemoryAdditionalText("/repo/app/" + ModelPath, Profiles.WithTasks(Profiles.Task("\"copy\"", "[0, 1]"))));
    }

    [Fact]
    public void Every_problem_with_the_tasks_is_reported()
    {
        var run = TestHelpers.Run(Source, new InMemoryAdditionalText("/repo/app/" + ModelPath, Profiles.WithTasks(
            Profiles.Task("\"a\"", "[9]") + ", " + Profiles.Task("\"b\"", "[]") + ", " + Profiles.Task("\"c-d\"", "[0]"))));
        run.Result.GeneratedSources.ShouldBeEmpty();
        run.Diagnostics.Select(d => d.Id).ShouldBe(["FIRST003", "FIRST007", "FIRST005"]);
    }
}
