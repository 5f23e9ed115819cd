using System.Globalization;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using Xunit;

namespace FiRST.Training.Tests;

/// <summary>
/// The demo tasks' grammar: what the generators draw is inside it and covers all of it, what is outside is
/// refused with the reason, and the committed hand-written prompt list agrees with both.
/// </summary>
public sealed class TaskGrammarTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("first-grammar").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TaskGenerator Task(string name) => TaskGenerator.Standard.Single(t => t.Name == name);

    /// <summary>The answer worked out from the prompt alone, independently of the generators; null when no task reads it.</summary>
    private static string? Oracle(string prompt)
    {
        if (prompt.StartsWith("copy ", StringComparison.Ordinal)) return prompt[5..^3];
        if (prompt.StartsWith("reverse ", StringComparison.Ordinal)) return new string(prompt[8..^3].Reverse().ToArray());
        if (prompt.StartsWith("sort ", StringComparison.Ordinal))
            return string.Join(' ', prompt[5..^3].Split(' ').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).Order());
        string[] ab = prompt.TrimEnd('=').Split('+');
        return (int.Parse(ab[0], CultureInfo.InvariantCulture) + int.Parse(ab[1], CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture);
    }

    [Fact]
    public void EveryDrawnExampleIsInsideItsTasksGrammarWithTheRightAnswer()
    {
        foreach (var task in TaskGenerator.Standard)
        {
            var rng = new Random(17);
            for (int i = 0; i < 3000; i++)
            {
                var e = i % 2 == 0 ? task.Sample(rng) : task.TrainingSample(rng);
                Assert.True(task.HasForm(e.Prompt), $"{task.Name}: '{e.Prompt}'");
                Assert.Same(task, TaskGenerator.Recognize(e.Prompt, TaskGenerator.Standard));
                Assert.Null(task.Problem(e.Prompt));
                Assert.Null(TaskGrammar.Refusal(e.Prompt, TaskGenerator.Standard));
                Assert.NotNull(task.Bucket(e.Prompt));
                Assert.Equal(Oracle(e.Prompt), e.Answer);
            }
        }
    }

    [Fact]
    public void TheDrawsCoverTheWholeGrammar()
    {
        // Held-out prompts are drawn over the grammar, not a corner of it: every length, symbol, count, number
        // and operand size appears, in every bucket.
        var text = TaskText.Demo;
        var texts = Task("copy").Samples(4000, 5).Select(e => e.Answer).ToArray();
        Assert.Equal(Enumerable.Range(1, 16), texts.Select(t => t.Length).Distinct().Order());
        Assert.Equal(TaskText.Symbols.Order(), texts.SelectMany(t => t).Distinct().Order());
        Assert.True(texts.Count(t => t.Contains(' ')) > 400, $"{texts.Count(t => t.Contains(' '))} of 4000 texts have a space");
        Assert.All(texts, t => Assert.Null(text.Problem(t)));
        var lists = Task("sort").Samples(4000, 5).Select(e => e.Prompt[5..^3].Split(' ').Select(int.Parse).ToArray()).ToArray();
        Assert.Equal(Enumerable.Range(1, 10), lists.Select(s => s.Length).Distinct().Order());
        Assert.Equal(Enumerable.Range(0, 100), lists.SelectMany(s => s).Distinct().Order());
        var sums = Task("add4").Samples(4000, 5).Select(e => e.Prompt.TrimEnd('=').Split('+')).ToArray();
        Assert.Equal(Enumerable.Range(1, 4), sums.SelectMany(ab => ab).Select(s => s.Length).Distinct().Order());
        foreach (var task in TaskGenerator.Standard)
            Assert.Equal(Enum.GetValues<LengthBucket>(), task.Samples(600, 9).Select(e => task.Bucket(e.Prompt)!.Value).Distinct().Order());
    }

    [Theory]
    [InlineData("hello", "has the form of none of the model's tasks (copy TEXT =>, reverse TEXT =>, sort NUMBERS =>, A+B=)")]
    [InlineData("", "has the form of none")]
    [InlineData("copy Hello =>", "TEXT has 'H', which is not a lower-case letter, digit or space")]
    [InlineData("copy a  b =>", "TEXT has two spaces in a row")]
    [InlineData("copy  ab =>", "TEXT starts or ends with a space")]
    [InlineData("copy abcdefghijklmnopq =>", "TEXT has 17 characters, at most 16")]
    [InlineData("reverse hello, world =>", "TEXT has ',', which is not a lower-case letter, digit or space")]
    [InlineData("sort 100 2 =>", "100 is above 99")]
    [InlineData("sort 05 3 1 =>", "05 has a leading zero")]
    [InlineData("sort 3,1 =>", "'3,1' is not a number from 0 to 99")]
    [InlineData("sort 1 2 3 4 5 6 7 8 9 10 11 =>", "NUMBERS has 11 numbers, at most 10")]
    [InlineData("sort 1  2 3 =>", "NUMBERS has a space at the start or end, or two in a row")]
    [InlineData("12345+1=", "12345 has 5 digits, at most 4")]
    [InlineData("1+0012=", "0012 has a leading zero")]
    public void PromptsOutsideTheGrammarAreRefusedWithTheReason(string prompt, string reason)
    {
        string refusal = TaskGrammar.Refusal(prompt, TaskGenerator.Standard)!;
        Assert.NotNull(refusal);
        Assert.Contains(reason, refusal);
        Assert.StartsWith($"'{prompt}'", refusal);
        Assert.DoesNotContain('\n', refusal);
    }

    [Theory]
    [InlineData("copy a =>")]
    [InlineData("copy hello world =>")]
    [InlineData("copy abcdefghijklmnop =>")]
    [InlineData("reverse hi =>")]
    [InlineData("sort 1 =>")]
    [InlineData("sort 12 5 =>")]
    [InlineData("sort 99 98 97 96 95 94 93 92 91 0 =>")]
    [InlineData("9999+9999=")]
    [InlineData("0+0=")]
    public void WhatANewUserTypesIsInsideTheGrammar(string prompt) => Assert.Null(TaskGrammar.Refusal(prompt, TaskGenerator.Standard));

    [Fact]
    public void APinnedTaskChecksItsOwnGrammarOnly()
    {
        Assert.Null(TaskGrammar.Refusal("sort 3 1 2 =>", TaskGenerator.Standard, Task("sort")));
        Assert.Contains("is not a sort prompt: sort takes sort NUMBERS =>", TaskGrammar.Refusal("copy abc =>", TaskGenerator.Standard, Task("sort")));
        Assert.Null(TaskGrammar.Refusal("copy abc =>", TaskGenerator.Standard));
        Assert.Null(TaskGrammar.Refusal("0+0=", TaskGenerator.Standard));
        Assert.Null(TaskGrammar.Refusal("sort 9 8 7 6 5 4 3 =>", TaskGenerator.Standard));
    }

    [Fact]
    public void TheCommittedPromptListAgreesWithTheGrammarAndItsAnswersAreRight()
    {
        var list = PromptList.Load(Path.Combine(DefaultModelTests.ModelDirectory, "prompts.jsonl"));
        Assert.True(list.Count(p => p.Answer is null) >= 10 && list.Count(p => p.Answer is not null) >= 30);
        foreach (var p in list)
        {
            string? refusal = TaskGrammar.Refusal(p.Prompt, TaskGenerator.Standard);
            if (p.Answer is null) Assert.True(refusal is not null, $"'{p.Prompt}' is listed as refused but is inside the grammar");
            else
            {
                Assert.True(refusal is null, refusal);
                Assert.Equal(Oracle(p.Prompt), p.Answer);
            }
        }
        // Each task in every bucket, so the list is more than the easy cases.
        foreach (var task in TaskGenerator.Standard)
            Assert.Equal(Enum.GetValues<LengthBucket>(), list.Where(p => p.Answer is not null && task.HasForm(p.Prompt)).Select(p => task.Bucket(p.Prompt)!.Value).Distinct().Order());
    }

    [Fact]
    public void PromptListsLoadAndBadOnesNameTheLine()
    {
        string path = Path.Combine(_dir, "prompts.jsonl");
        File.WriteAllText(path, "{\"prompt\":\"copy a =>\",\"answer\":\"a\"}\n\n{\"prompt\":\"hello\",\"refused\":true}\n");
        Assert.Equal([new CheckedPrompt("copy a =>", "a"), new CheckedPrompt("hello", null)], PromptList.Load(path));

        void Bad(string content, string expected)
        {
            File.WriteAllText(path, content);
            var e = Assert.Throws<ModelLoadException>(() => PromptList.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(expected, e.Message);
        }
        Bad("", "holds no prompts");
        Bad("{\"prompt\":\"x\"}", "line 1: give either \"answer\" (a string) or \"refused\": true");
        Bad("{\"prompt\":\"x\",\"answer\":\"y\",\"refused\":true}", "line 1: give either");
        Bad("{\"prompt\":\"x\",\"answer\":3}", "line 1: give either");
        Bad("{\"prompt\":\"x\",\"answer\":\"y\"}\n{oops", "line 2: not valid JSON");
        Bad("[1]", "line 1: expected {\"prompt\"");
        Assert.Contains("prompt list not found", Assert.Throws<ModelLoadException>(() => PromptList.Load(Path.Combine(_dir, "none.jsonl"))).Message);
    }
}
