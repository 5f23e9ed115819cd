using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
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

    [Fact]
    public void TrainingExamplesAreCorrectAndFourDigitAdditionGetsMoreCarryChains()
    {
        foreach (var task in TaskGenerator.All)
            foreach (var e in Training(task, 2000)) Assert.True(Check(task.Name, e), $"{task.Name}: {e}");

        // Two neighbouring digit pairs that each sum to 9 (34+4162=, 1234+8766=): whether the carry runs on
        // depends on the digits below.
        static int Chains(IEnumerable<TaskExample> examples) => examples.Count(e =>
        {
            string[] ops = e.Prompt.TrimEnd('=').Split('+');
            int length = Math.Max(ops[0].Length, ops[1].Length);
            string a = ops[0].PadLeft(length, '0'), b = ops[1].PadLeft(length, '0');
            for (int i = 0; i + 1 < length; i++)
                if (a[i] - '0' + b[i] - '0' == 9 && a[i + 1] - '0' + b[i + 1] - '0' == 9) return true;
            return false;
        });
        var add4 = TaskGenerator.Find("add4");
        int natural = Chains(add4.Samples(2000, seed: 5)), training = Chains(Training(add4, 2000));
        Assert.True(training > 4 * Math.Max(natural, 20), $"runs of pairs summing to 9: {natural} of 2000 uniform, {training} of 2000 training examples");

        // A task without a share draws its training stream exactly as its evaluation stream (the committed
        // models' data stays reproducible).
        Assert.Equal(TaskGenerator.Find("add").Samples(300, seed: 9), Training(TaskGenerator.Find("add"), 300, seed: 9));
        Assert.Equal(new CopyTask().Samples(300, seed: 9), Training(new CopyTask(), 300, seed: 9));

        // Copy and reverse draw a fifth of their training texts as runs (0123, fedc, aaa): four characters in a row
        // one step apart in the run order, which a uniform draw almost never shows, and every one inside the grammar.
        static int Runs(IEnumerable<TaskExample> examples) => examples.Count(e =>
        {
            string text = e.Prompt[(e.Prompt.IndexOf(' ') + 1)..^3];
            for (int i = 0; i + 3 < text.Length; i++)
            {
                int step = TaskText.RunOrder.IndexOf(text[i + 1]) - TaskText.RunOrder.IndexOf(text[i]);
                if (step is 1 or -1 && Enumerable.Range(i + 1, 2).All(j => TaskText.RunOrder.IndexOf(text[j + 1]) - TaskText.RunOrder.IndexOf(text[j]) == step)
                    && text.Substring(i, 4).All(c => c != ' ')) return true;
            }
            return false;
        });
        foreach (string name in new[] { "copy", "reverse" })
        {
            var task = TaskGenerator.Find(name);
            var drawn = Training(task, 2000);
            Assert.All(drawn, e => Assert.Null(task.Problem(e.Prompt)));
            int uniformRuns = Runs(task.Samples(2000, seed: 5)), trainingRuns = Runs(drawn);
            Assert.True(uniformRuns < 10 && trainingRuns > 150, $"{name}: texts with a run of four: {uniformRuns} of 2000 uniform, {trainingRuns} of 2000 training");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReverseTask(runShare: 2));
        // Sort draws half its training lists from the longer half of the counts (6 to 10 numbers), the hard ones.
        static int Long(IEnumerable<TaskExample> examples) => examples.Count(e => e.Prompt.Split(' ').Length - 2 > 5);
        var sort = TaskGenerator.Find("sort");
        int uniformLong = Long(sort.Samples(2000, seed: 5)), trainingLong = Long(Training(sort, 2000));
        Assert.InRange(uniformLong, 900, 1100);
        Assert.InRange(trainingLong, 1400, 1600);

        // Addition draws 40% of its other training sums with both operands of 3 or 4 digits, where the longest
        // carries run: with digit counts drawn uniformly about 22% of sums have both.
        static int LongSums(IEnumerable<TaskExample> examples) =>
            examples.Count(e => e.Prompt.TrimEnd('=').Split('+').All(operand => operand.Length >= 3));
        int uniformLongSums = LongSums(add4.Samples(2000, seed: 5)), trainingLongSums = LongSums(Training(add4, 2000));
        Assert.InRange(uniformLongSums, 400, 600);
        Assert.InRange(trainingLongSums, 870, 1080);
        Assert.All(Training(new AdditionTask(4, "add4", longShare: 1), 200), e => Assert.All(e.Prompt.TrimEnd('=').Split('+'), operand => Assert.InRange(operand.Length, 3, 4)));

        Assert.Throws<ArgumentOutOfRangeException>(() => new AdditionTask(4, "add4", carryRunShare: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdditionTask(4, "add4", longShare: -0.1));

        static TaskExample[] Training(TaskGenerator task, int count, int seed = 21)
        {
            var rng = new Random(seed);
            return Enumerable.Range(0, count).Select(_ => task.TrainingSample(rng)).ToArray();
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
