using FiRST.Runtime.Tokenization;
using FiRST.Training.Tasks;
using Xunit;

namespace FiRST.Training.Tests;

public sealed class TaskTests
{
    [Fact]
    public void ExamplesAreDeterministicAndCorrect()
    {
        foreach (var task in TaskGenerator.All)
        {
            var a = task.Samples(200, seed: 11);
            Assert.Equal(a, task.Samples(200, seed: 11));
            Assert.NotEqual(a, task.Samples(200, seed: 12));
            Assert.True(a.Distinct().Count() > 150, $"{task.Name} repeats itself");
            foreach (var e in a) Assert.True(Check(task.Name, e), $"{task.Name}: {e}");
        }
    }

    private static bool Check(string task, TaskExample e)
    {
        string body = task.StartsWith("add") ? e.Prompt.TrimEnd('=') : e.Prompt[(e.Prompt.IndexOf(' ') + 1)..^3];
        if (task == "recall")
        {
            // "ann has tea bob has jam bob =>": the answer is what the asked name has.
            string[] words = e.Prompt[..^3].Split(' ');
            var owned = new Dictionary<string, string>();
            for (int i = 0; i + 2 < words.Length; i += 3)
            {
                if (words[i + 1] != "has") return false;
                owned.Add(words[i], words[i + 2]);
            }
            return owned.Count is 2 or 3 && owned.Values.Distinct().Count() == owned.Count && e.Answer == owned[words[^1]];
        }
        return task switch
        {
            "copy" => e.Answer == body,
            "reverse" => e.Answer == new string(body.Reverse().ToArray()),
            "sort" => e.Answer == string.Join(' ', body.Split(' ').Select(int.Parse).Order()),
            "add" => int.Parse(e.Answer) == body.Split('+').Select(int.Parse).Sum() && body.Split('+').All(x => x.Length <= 3),
            "add4" => int.Parse(e.Answer) == body.Split('+').Select(int.Parse).Sum() && body.Split('+').All(x => x.Length <= 4),
            _ => false,
        };
    }

    [Fact]
    public void CharacterTokenizerEncodesEveryTaskExampleOneTokenPerCharacter()
    {
        var tokenizer = CharTokenizer();
        Assert.Equal(CharTokenizerFile.VocabSize, tokenizer.VocabSize);
        foreach (var task in TaskGenerator.All)
            foreach (var e in task.Samples(50, seed: 3))
            {
                string text = e.Prompt + " " + e.Answer;
                int[] ids = tokenizer.Encode(text);
                // BOS, the dummy-prefix space, then one token per character; none falls back to bytes.
                Assert.Equal(text.Length + 2, ids.Length);
                Assert.All(ids.Skip(1), id => Assert.True(id >= 259, $"'{text}' used a byte or special token"));
                Assert.Equal(text, tokenizer.Decode(ids));
            }
    }

    /// <summary>The character tokenizer as <see cref="CharTokenizerFile"/> writes it, loaded from a temporary file.</summary>
    internal static TextTokenizer CharTokenizer()
    {
        string dir = Directory.CreateTempSubdirectory("first-tok").FullName;
        try
        {
            string path = Path.Combine(dir, "tokenizer.bin");
            CharTokenizerFile.Write(path);
            return TextTokenizer.Load(path);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
