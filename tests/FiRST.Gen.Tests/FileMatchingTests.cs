using System.Collections.Immutable;
using FiRST.Gen.Model;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>How the attribute's path finds its AdditionalFiles item: by the end of the path, at a folder boundary.</summary>
public sealed class FileMatchingTests
{
    private static string? Match(string? path, params string[] files) =>
        FiRSTModelGenerator.FindFile(path, files.Select(f => new ModelFile(f, "{}")).ToImmutableArray())?.Path;

    [Theory]
    [InlineData("models/demo.json", "/repo/app/models/demo.json")]
    [InlineData("demo.json", "/repo/app/models/demo.json")]
    [InlineData("./models/demo.json", "/repo/app/models/demo.json")]
    [InlineData("models\\demo.json", "/repo/app/models/demo.json")]
    [InlineData("models/demo.json", "C:\\repo\\app\\models\\demo.json")]
    [InlineData("models/demo.json", "models/demo.json")]
    public void Matches_the_end_of_the_path(string attributePath, string file) => Match(attributePath, file).ShouldBe(file);

    [Theory]
    [InlineData("models/demo.json", "/repo/app/mymodels/demo.json")]
    [InlineData("demo.json", "/repo/app/models/mydemo.json")]
    [InlineData("", "/repo/app/models/demo.json")]
    [InlineData(null, "/repo/app/models/demo.json")]
    [InlineData("models/demo.json", "/repo/app/models/demo.json.bak")]
    public void Does_not_match_elsewhere(string? attributePath, string file) => Match(attributePath, file).ShouldBeNull();

    [Fact]
    public void An_exact_match_wins_over_a_longer_path()
        => Match("models/demo.json", "/other/models/demo.json", "models/demo.json").ShouldBe("models/demo.json");
}
