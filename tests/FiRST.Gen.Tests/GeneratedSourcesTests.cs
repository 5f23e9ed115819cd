using FiRST.Gen.Testing;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>
/// <see cref="FiRSTGeneratedSources"/>, the helper a user's test calls: it returns what a build generates for the
/// profile, keyed by hint name, and turns every problem into an exception that says what is wrong.
/// </summary>
public sealed class GeneratedSourcesTests
{
    private static string DemoProfile => Path.Combine(AppContext.BaseDirectory, "Inputs", "demo.first.json");

    [Fact]
    public void It_returns_what_the_generator_writes_in_a_build()
    {
        var files = FiRSTGeneratedSources.For(DemoProfile, "DemoModel", "Demo");

        var (hintName, text) = files.ShouldHaveSingleItem();
        hintName.ShouldBe("Demo.DemoModel.FiRST.g.cs");
        // The same class and profile through the tests' own driver (the attribute names the file by its name).
        var build = TestHelpers.RunAndCompile(
            TestHelpers.ModelClass("DemoModel", "demo.first.json"),
            new InMemoryAdditionalText("/elsewhere/demo.first.json", File.ReadAllText(DemoProfile)));
        text.ShouldBe(build.Source);
    }

    [Fact]
    public void It_is_the_same_on_every_call_and_names_no_machine_path()
    {
        var first = FiRSTGeneratedSources.For(DemoProfile);
        var second = FiRSTGeneratedSources.For(Path.GetRelativePath(Directory.GetCurrentDirectory(), DemoProfile));

        second.ShouldBe(first);
        first.Keys.ShouldBe(["Model.FiRST.g.cs"]);
        first["Model.FiRST.g.cs"].ShouldNotContain(AppContext.BaseDirectory.TrimEnd('/', '\\'));
        first["Model.FiRST.g.cs"].ShouldContain("partial class Model");
    }

    [Fact]
    public void A_missing_profile_is_a_FileNotFoundException()
    {
        string missing = Path.Combine(AppContext.BaseDirectory, "Inputs", "missing.first.json");

        Should.Throw<FileNotFoundException>(() => FiRSTGeneratedSources.For(missing)).FileName.ShouldBe(missing);
    }

    [Fact]
    public void A_profile_the_generator_rejects_throws_with_its_diagnostic()
    {
        using var dir = new FiRST.Runtime.Tests.Support.TempDir();
        string profile = dir.File("bad.first.json");
        File.WriteAllText(profile, Profiles.WithTasks(Profiles.Task("\"copy\"", "[0, 9]")));

        var e = Should.Throw<InvalidOperationException>(() => FiRSTGeneratedSources.For(profile));

        e.Message.ShouldContain("FIRST");
        e.Message.ShouldContain("bad.first.json");
    }

    [Theory]
    [InlineData("class", null)]
    [InlineData("Demo Model", null)]
    [InlineData("DemoModel", "My..App")]
    public void A_class_name_or_namespace_that_is_not_CSharp_is_an_ArgumentException(string className, string? ns)
    {
        Should.Throw<ArgumentException>(() => FiRSTGeneratedSources.For(DemoProfile, className, ns));
    }
}
