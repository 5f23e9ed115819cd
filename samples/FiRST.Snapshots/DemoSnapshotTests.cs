using System.Runtime.CompilerServices;
using FiRST.Gen.Testing;
using Shouldly;
using Xunit;

namespace FiRST.Snapshots;

/// <summary>
/// The code FiRST.Gen generates for the demo app's class (<c>FiRST.Demo.DemoModel</c>, from
/// models/demo/model.first.json), compared with the approved files in Snapshots/. A recalibrated profile or a
/// new generator version fails here with a <c>*.received.txt</c> beside the approved file: review the diff and
/// rename it to <c>*.approved.txt</c> to accept it.
/// </summary>
public sealed class DemoSnapshotTests
{
    private static readonly IReadOnlyDictionary<string, string> Files =
        FiRSTGeneratedSources.For(Path.Combine(AppContext.BaseDirectory, "demo", "model.first.json"), "DemoModel", "FiRST.Demo");

    [Fact]
    public void The_generator_writes_one_file_for_the_class()
    {
        Files.Keys.ShouldBe(["FiRST.Demo.DemoModel.FiRST.g.cs"]);
    }

    [Fact]
    [MethodImpl(MethodImplOptions.NoInlining)] // Shouldly finds the test method on the stack.
    public void The_generated_code_matches_the_approved_snapshot()
    {
        foreach (var (hintName, text) in Files)
            text.ShouldMatchApproved(c => c.SubFolder("Snapshots").WithDiscriminator(hintName).NoDiff());
    }
}
