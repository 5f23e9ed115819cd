using System.Reflection;
using FiRST.Gen.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>
/// The generator's caching: pipeline steps hold only equatable values, so an edit that does not touch the
/// model re-runs nothing, while an edit to the profile re-runs parsing and emission.
/// </summary>
public sealed class IncrementalTests
{
    private const string Path = "models/stories260K.first.json";

    private static (GeneratorRun Run, InMemoryAdditionalText Profile, InMemoryAdditionalText Notes) FirstRun()
    {
        var profile = new InMemoryAdditionalText("/repo/app/" + Path, TestHelpers.Input("stories260K.first.json"));
        var notes = new InMemoryAdditionalText("/repo/app/notes.txt", "unrelated");
        var run = TestHelpers.Run(TestHelpers.ModelClass("StoriesModel", Path), profile, notes);
        run.Result.GeneratedSources.Length.ShouldBe(1);
        // Every declared step ran and was recorded.
        foreach (string name in TestHelpers.TrackingNameValues) run.Result.TrackedSteps.ShouldContainKey(name);
        return (run, profile, notes);
    }

    [Fact]
    public void Adding_an_unrelated_file_leaves_every_step_cached()
    {
        var (first, _, _) = FirstRun();
        var compilation = first.Input.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace Other; /// <summary>x</summary>\npublic class Unrelated { }", TestHelpers.ParseOptions, path: "Other.cs"));

        var second = TestHelpers.Run(first.Driver, compilation);

        AssertAllCached(second);
        second.Source.ShouldBe(first.Source);
    }

    [Fact]
    public void Changing_another_class_in_the_model_file_leaves_every_step_cached()
    {
        var (first, _, _) = FirstRun();
        var tree = first.Input.SyntaxTrees.Single();
        // Appended after the model class, so the attribute's position (kept for diagnostics) does not move.
        var edited = tree.WithChangedText(tree.GetText().WithChanges(new Microsoft.CodeAnalysis.Text.TextChange(
            new Microsoft.CodeAnalysis.Text.TextSpan(tree.Length, 0), "\n/// <summary>x</summary>\npublic class Helper { public int X; }\n")));
        var compilation = first.Input.ReplaceSyntaxTree(tree, edited);

        var second = TestHelpers.Run(first.Driver, compilation);

        AssertAllCached(second);
    }

    [Fact]
    public void Editing_an_unrelated_additional_file_leaves_parsing_and_output_cached()
    {
        var (first, _, notes) = FirstRun();
        var driver = first.Driver.ReplaceAdditionalText(notes, new InMemoryAdditionalText(notes.Path, "changed"));

        var second = TestHelpers.Run(driver, first.Input);

        Reasons(second, TrackingNames.Matched).ShouldAllBe(r => r == IncrementalStepRunReason.Unchanged || r == IncrementalStepRunReason.Cached);
        Reasons(second, TrackingNames.Parsed).ShouldAllBe(r => r == IncrementalStepRunReason.Cached);
        OutputReasons(second).ShouldAllBe(r => r == IncrementalStepRunReason.Cached);
    }

    [Fact]
    public void Editing_the_profile_reruns_parsing_and_emission()
    {
        var (first, profile, _) = FirstRun();
        string edited = TestHelpers.Input("stories260K.first.json")
            .Replace("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": [0, 3, 4]")
            .Replace("\"skipped_layers\": [1, 3]", "\"skipped_layers\": [1, 2]");
        edited.ShouldNotBe(TestHelpers.Input("stories260K.first.json"));
        var driver = first.Driver.ReplaceAdditionalText(profile, new InMemoryAdditionalText(profile.Path, edited));

        var second = TestHelpers.Run(driver, first.Input);

        Reasons(second, TrackingNames.Targets).ShouldAllBe(r => r == IncrementalStepRunReason.Cached);
        Reasons(second, TrackingNames.Matched).ShouldContain(IncrementalStepRunReason.Modified);
        Reasons(second, TrackingNames.Parsed).ShouldContain(IncrementalStepRunReason.Modified);
        OutputReasons(second).ShouldContain(IncrementalStepRunReason.Modified);
        second.Source.ShouldNotBe(first.Source);
        second.Source.ShouldContain("new int[] { 0, 3, 4 }");
        second.CompilationProblems.ShouldBeEmpty();
    }

    [Fact]
    public void Model_types_hold_no_compilation_objects()
    {
        // Like System.Text.Json's generator tests: walk every type reachable from the pipeline's values and
        // forbid anything that would pin a compilation in the cache or compare by reference.
        Type[] forbidden =
        [
            typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(SemanticModel),
            typeof(AdditionalText), typeof(Location), typeof(SyntaxReference), typeof(AttributeData), typeof(IOperation),
        ];
        Type[] roots = [typeof(ModelTarget), typeof(LocatedTarget), typeof(ModelFile), typeof(MatchedModel), typeof(ModelResult), typeof(EmitModel), typeof(ModelSpec), typeof(TaskSpec), typeof(DiagnosticInfo), typeof(LocationInfo)];
        var generatorAssembly = typeof(FiRSTModelGenerator).Assembly;
        var visited = new HashSet<Type>();
        var queue = new Queue<Type>(roots);
        while (queue.Count > 0)
        {
            var type = queue.Dequeue();
            if (!visited.Add(type)) continue;
            foreach (var bad in forbidden)
                bad.IsAssignableFrom(type).ShouldBeFalse($"{type} is (or derives from) {bad}");
            if (type.IsArray)
            {
                queue.Enqueue(type.GetElementType()!);
                continue;
            }
            foreach (var arg in type.IsGenericType ? type.GetGenericArguments() : []) queue.Enqueue(arg);
            if (type.Assembly != generatorAssembly) continue; // framework/Roslyn value types: checked above, not walked
            if (!type.IsValueType && !type.IsAbstract)
                typeof(IEquatable<>).MakeGenericType(type).IsAssignableFrom(type).ShouldBeTrue($"{type} must be equatable");
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                queue.Enqueue(field.FieldType);
        }
        visited.ShouldContain(typeof(EquatableArray<int>));
    }

    [Fact]
    public void Moving_the_attribute_reparses_but_leaves_the_source_output_cached()
    {
        var (first, _, _) = FirstRun();
        var tree = first.Input.SyntaxTrees.Single();
        // Lines above the class move the attribute: its locations (kept for diagnostics) change, the class does not.
        var edited = tree.WithChangedText(tree.GetText().WithChanges(new TextChange(new TextSpan(0, 0), "// The model class.\n\n")));
        var second = TestHelpers.Run(first.Driver, first.Input.ReplaceSyntaxTree(tree, edited));

        // The target holds the locations, so it changes and the parse runs again (it might have diagnostics
        // to move)...
        Reasons(second, TrackingNames.Targets).ShouldContain(IncrementalStepRunReason.Modified);
        Reasons(second, TrackingNames.Matched).ShouldContain(IncrementalStepRunReason.Modified);
        Reasons(second, TrackingNames.Parsed).ShouldNotContain(IncrementalStepRunReason.Cached);
        // ...but the emit model holds none: it is equal to the first run's, and nothing is emitted again.
        Reasons(second, TrackingNames.EmitModels).ShouldAllBe(r => r == IncrementalStepRunReason.Unchanged || r == IncrementalStepRunReason.Cached);
        Reasons(second, TrackingNames.Diagnostics).ShouldAllBe(r => r == IncrementalStepRunReason.Unchanged || r == IncrementalStepRunReason.Cached);
        second.Result.TrackedOutputSteps.ShouldNotBeEmpty();
        OutputReasons(second).ShouldAllBe(r => r == IncrementalStepRunReason.Cached);
        second.Source.ShouldBe(first.Source);
    }

    [Fact]
    public void Moving_the_attribute_moves_its_diagnostic_without_touching_the_source_output()
    {
        // No additional file: FIRST001 at the attribute's argument, and no emit model.
        var first = TestHelpers.Run(TestHelpers.ModelClass("StoriesModel", Path));
        var before = first.Diagnostics.ShouldHaveSingleItem();
        before.Id.ShouldBe("FIRST001");
        var tree = first.Input.SyntaxTrees.Single();
        var edited = tree.WithChangedText(tree.GetText().WithChanges(new TextChange(new TextSpan(0, 0), "// The model class.\n\n")));

        var second = TestHelpers.Run(first.Driver, first.Input.ReplaceSyntaxTree(tree, edited));

        var after = second.Diagnostics.ShouldHaveSingleItem();
        after.Id.ShouldBe("FIRST001");
        after.Location.GetLineSpan().StartLinePosition.Line.ShouldBe(before.Location.GetLineSpan().StartLinePosition.Line + 2);
        after.Location.SourceSpan.Start.ShouldBe(before.Location.SourceSpan.Start + "// The model class.\n\n".Length);
        Reasons(second, TrackingNames.Diagnostics).ShouldContain(IncrementalStepRunReason.Modified);
        Reasons(second, TrackingNames.EmitModels).ShouldAllBe(r => r == IncrementalStepRunReason.Unchanged || r == IncrementalStepRunReason.Cached);
    }

    [Fact]
    public void The_emit_model_holds_no_location_or_diagnostic()
    {
        // What the source output consumes must not change when only positions do: walk every field type
        // reachable from EmitModel and forbid the types that carry positions.
        var visited = new HashSet<Type>();
        var queue = new Queue<Type>([typeof(EmitModel)]);
        while (queue.Count > 0)
        {
            var type = queue.Dequeue();
            if (!visited.Add(type)) continue;
            type.ShouldNotBe(typeof(LocationInfo), "EmitModel reaches LocationInfo");
            type.ShouldNotBe(typeof(DiagnosticInfo), "EmitModel reaches DiagnosticInfo");
            type.ShouldNotBe(typeof(LocatedTarget), "EmitModel reaches LocatedTarget");
            if (type.IsArray) queue.Enqueue(type.GetElementType()!);
            foreach (var arg in type.IsGenericType ? type.GetGenericArguments() : []) queue.Enqueue(arg);
            if (type.Assembly != typeof(FiRSTModelGenerator).Assembly) continue;
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                queue.Enqueue(field.FieldType);
        }
        visited.ShouldContain(typeof(TaskSpec));
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRun run, string step)
        => run.Result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    private static IEnumerable<IncrementalStepRunReason> OutputReasons(GeneratorRun run)
        => run.Result.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs).Select(o => o.Reason);

    private static void AssertAllCached(GeneratorRun run)
    {
        foreach (string name in TestHelpers.TrackingNameValues)
        {
            run.Result.TrackedSteps.ShouldContainKey(name);
            Reasons(run, name).ShouldAllBe(
                r => r == IncrementalStepRunReason.Cached || r == IncrementalStepRunReason.Unchanged,
                $"step {name} should be cached or unchanged");
        }
        run.Result.TrackedOutputSteps.ShouldNotBeEmpty();
        OutputReasons(run).ShouldAllBe(r => r == IncrementalStepRunReason.Cached);
    }
}
