using FiRST.Gen.Parsing;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>The generator's own small JSON reader.</summary>
public sealed class JsonReaderTests
{
    [Fact]
    public void Reads_every_kind_of_value()
    {
        var root = JsonReader.Parse("\uFEFF{ \"s\": \"a\\\"b\\\\c\\/d\\n\\u00e9\\uD83D\\uDE00\", \"n\": -1.5e3, \"i\": 42, \"t\": true, \"f\": false, \"z\": null, \"a\": [1, [], {}] }")
            .ShouldBeOfType<JsonObject>();
        root.Get("s").ShouldBeOfType<JsonString>().Value.ShouldBe("a\"b\\c/d\né\U0001F600");
        var n = root.Get("n").ShouldBeOfType<JsonNumber>();
        n.Value.ShouldBe(-1500);
        n.IsIntegerLiteral.ShouldBeFalse();
        root.Get("i").ShouldBeOfType<JsonNumber>().IsIntegerLiteral.ShouldBeTrue();
        root.Get("t").ShouldBeOfType<JsonBool>().Value.ShouldBeTrue();
        root.Get("f").ShouldBeOfType<JsonBool>().Value.ShouldBeFalse();
        root.Get("z").ShouldBeOfType<JsonNull>();
        root.Get("a").ShouldBeOfType<JsonArray>().Items.Count.ShouldBe(3);
        root.Get("missing").ShouldBeNull();
    }

    [Fact]
    public void Values_know_their_line_and_column()
    {
        var root = (JsonObject)JsonReader.Parse("{\r\n  \"a\": [\n    7 ] }");
        var array = (JsonArray)root.Get("a")!;
        (array.Line, array.Column).ShouldBe((2, 8));
        (array.Items[0].Line, array.Items[0].Column).ShouldBe((3, 5));
    }

    [Theory]
    [InlineData("", 1, 1)]
    [InlineData("{\n  \"a\": 01 }", 2, 9)]
    [InlineData("{\n\"a\": \"x\ny\" }", 2, 8)]
    [InlineData("[1, 2,]", 1, 7)]
    [InlineData("{} {}", 1, 4)]
    [InlineData("[1 2]", 1, 4)]
    [InlineData("{\"a\" 1}", 1, 6)]
    [InlineData("\"\\u12G4\"", 1, 6)]
    [InlineData("-", 1, 2)]
    [InlineData("1.", 1, 3)]
    [InlineData("1e+", 1, 4)]
    public void Reports_the_first_error_with_its_position(string text, int line, int column)
    {
        var e = Should.Throw<JsonParseException>(() => JsonReader.Parse(text));
        (e.Line, e.Column).ShouldBe((line, column), e.Message);
    }

    [Fact]
    public void Nesting_is_limited()
    {
        Should.NotThrow(() => JsonReader.Parse(new string('[', JsonReader.MaxDepth) + new string(']', JsonReader.MaxDepth)));
        Should.Throw<JsonParseException>(() => JsonReader.Parse(new string('[', JsonReader.MaxDepth + 1) + new string(']', JsonReader.MaxDepth + 1)))
            .Reason.ShouldContain("nested deeper");
    }
}
