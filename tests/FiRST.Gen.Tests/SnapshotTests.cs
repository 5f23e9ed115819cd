using System.Runtime.CompilerServices;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>
/// The generated source for four real model shapes (the embedded demo model's calibrated profile among them, and a
/// first.profile/2 copy of it with speculation plans and early-exit thresholds), compared with approved files in Snapshots/. On a
/// mismatch Shouldly writes <c>*.received.txt</c> beside the approved file (git-ignored) and fails; no diff
/// tool is launched. Review the received file and rename it to <c>.approved.txt</c> to accept a change.
/// </summary>
public sealed class SnapshotTests
{
    [Theory]
    [InlineData("llama2-7b", "Llama2Model", "models/llama2-7b.first.json", "llama2-7b.first.json")]
    [InlineData("tinyllama-config", "TinyLlamaModel", "models/tinyllama/config.json", "tinyllama-1.1b.config.json")]
    [InlineData("stories260K", "StoriesModel", "models/stories260K.first.json", "stories260K.first.json")]
    [InlineData("demo", "DemoModel", "DefaultModel/model.first.json", "demo.first.json")]
    [InlineData("demo-speculative", "DemoModel", "DefaultModel/model.first.json", "demo-speculative.first.json")]
    [InlineData("llama3.2-1b", "Llama3Model", "models/llama3.2-1b.first.json", "llama3.2-1b.first.json")]
    [InlineData("llama3.2-1b-config", "Llama3Model", "models/llama3.2-1b/config.json", "llama3.2-1b.config.json")]
    [MethodImpl(MethodImplOptions.NoInlining)] // Shouldly finds the test method on the stack.
    public void Generated_source_matches_the_approved_snapshot(string snapshot, string className, string path, string input)
    {
        var run = TestHelpers.RunAndCompile(
            TestHelpers.ModelClass(className, path),
            new InMemoryAdditionalText("/repo/app/" + path, TestHelpers.Input(input)));

        run.Result.GeneratedSources[0].HintName.ShouldBe($"Demo.{className}.FiRST.g.cs");
        run.Source.ShouldMatchApproved(c => c.SubFolder("Snapshots").WithDiscriminator(snapshot).NoDiff());
    }
}
