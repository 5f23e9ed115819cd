namespace FiRST.Evaluation.Tasks;

/// <summary>One example: what the user types and the exact answer expected.</summary>
public readonly record struct TaskExample(string Prompt, string Answer);

/// <summary>Where a prompt falls within its task's grammar, by the size of what it asks about.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<LengthBucket>))]
public enum LengthBucket
{
    /// <summary>The shortest third of the grammar's sizes (copy: 1 to 5 characters).</summary>
    Short,
    /// <summary>The middle sizes.</summary>
    Medium,
    /// <summary>The longest sizes (copy: 12 to 16 characters).</summary>
    Long,
}

/// <summary>
/// A procedurally generated task whose answers can be checked exactly. Prompts read like what a user would
/// type ("reverse kqz1 =>", "12+345="), with no hidden label beyond that. The same seed gives the same
/// examples on every machine.
/// </summary>
public abstract class TaskGenerator
{
    /// <summary>The task's name (an identifier: it becomes a profile task and an enum member).</summary>
    public abstract string Name { get; }

    /// <summary>Draws one example from the task's distribution (what evaluation measures).</summary>
    public abstract TaskExample Sample(Random rng);

    /// <summary>
    /// Draws one training example. By default the same distribution as <see cref="Sample"/>; a task may mix in
    /// more of the rare cases it finds hard, so that training sees them often enough to learn them.
    /// </summary>
    public virtual TaskExample TrainingSample(Random rng) => Sample(rng);

    /// <summary>Draws <paramref name="count"/> examples from a generator seeded with <paramref name="seed"/>.</summary>
    public IReadOnlyList<TaskExample> Samples(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Sample(rng)).ToArray();
    }

    /// <summary>The tasks the embedded model was trained on, easiest first.</summary>
    public static IReadOnlyList<TaskGenerator> Standard { get; } = [new CopyTask(runShare: 0.2), new ReverseTask(runShare: 0.2), new SortTask(longShare: 0.5), new AdditionTask(4, "add4", carryRunShare: 0.3, longShare: 0.4)];

    /// <summary>Every built-in task: <see cref="Standard"/>, the free-text-like <see cref="RecallTask"/> and addition of up to three digits.</summary>
    public static IReadOnlyList<TaskGenerator> All { get; } = [.. Standard, new RecallTask(), new AdditionTask()];

    /// <summary>The standard task called <paramref name="name"/>.</summary>
    public static TaskGenerator Find(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown task '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}");

    /// <summary>
    /// True when <paramref name="prompt"/> has this task's form ("copy … =>", "12+34="): how a prompt typed by
    /// a user is matched to the task whose decode path should run. The form only, not the task's full grammar.
    /// </summary>
    public abstract bool HasForm(string prompt);

    /// <summary>The first of <paramref name="tasks"/> whose form <paramref name="prompt"/> has; null when none.</summary>
    public static TaskGenerator? Recognize(string prompt, IEnumerable<TaskGenerator> tasks) =>
        tasks.FirstOrDefault(t => t.HasForm(prompt));

    /// <summary>The prompt's form with its parts named ("copy TEXT =>"); null when the task states none (a task file's).</summary>
    public virtual string? Form => null;

    /// <summary>The limits of the form's parts ("TEXT: 1 to 16 characters ..."); null when there are none.</summary>
    public virtual string? Limits => null;

    /// <summary>What the task accepts, in words a user can read: <see cref="Form"/> and <see cref="Limits"/>.</summary>
    public string? Grammar => Form is null ? null : Limits is null ? Form : $"{Form} with {Limits}";

    /// <summary>
    /// Why <paramref name="prompt"/>, which has this task's form, is outside the task's grammar (one phrase:
    /// "TEXT has 17 characters, at most 16"); null when it is inside. A task without a grammar accepts
    /// every prompt of its form.
    /// </summary>
    public virtual string? Problem(string prompt) => null;

    /// <summary>A prompt a user might type, with its answer; null when the task has no chosen one.</summary>
    public virtual TaskExample? Example => null;

    /// <summary>The length bucket of <paramref name="prompt"/> (inside the grammar); null when the task has none.</summary>
    public virtual LengthBucket? Bucket(string prompt) => null;

    /// <summary>"verb … =>": a prompt that starts with <paramref name="verb"/> and a space and ends with " =>".</summary>
    protected static bool HasVerbForm(string prompt, string verb) =>
        prompt.Length > verb.Length + 4 && prompt.StartsWith(verb + " ", StringComparison.Ordinal) && prompt.EndsWith(" =>", StringComparison.Ordinal);

    /// <summary>What follows "verb " and precedes " =>" in a prompt of the verb's form.</summary>
    protected static string Argument(string prompt, string verb) => prompt[(verb.Length + 1)..^3];

    /// <summary>
    /// The bucket of <paramref name="size"/> among sizes <paramref name="min"/> to <paramref name="max"/>: the
    /// lowest and highest third (rounded down) short and long, the rest medium (1-16: 1-5, 6-11, 12-16; 3-8: 3-4,
    /// 5-6, 7-8).
    /// </summary>
    protected static LengthBucket Thirds(int size, int min, int max)
    {
        int count = max - min + 1, third = (count + 1) / 3, rank = size - min + 1;
        return rank <= third ? LengthBucket.Short : rank <= count - third ? LengthBucket.Medium : LengthBucket.Long;
    }
}

/// <summary>"copy kqz1 =>" gives "kqz1".</summary>
/// <param name="text">What TEXT may be (default: <see cref="TaskText.Demo"/>, what the embedded model was trained on).</param>
/// <param name="runShare">Share of training texts drawn as runs (<see cref="TaskText.DrawRuns"/>); evaluation keeps the uniform draw.</param>
public sealed class CopyTask(TaskText? text = null, double runShare = 0) : TextTask("copy", text, runShare)
{
    /// <inheritdoc />
    // Not "copy hello world =>": an earlier embedded model's copy path (5 of 8 layers) wrote "helro world" for it,
    // and the example is what `first tasks` shows the model answering.
    public override TaskExample? Example => Text.Spaces ? new TaskExample("copy hi there =>", "hi there") : new TaskExample("copy kqz1 =>", "kqz1");

    /// <inheritdoc />
    protected override string Answer(string text) => text;
}

/// <summary>
/// The free-text-like task: "ann has tea bob has jam bob =>" gives "jam". Two or three owners with distinct
/// names and things; the answer is found by looking back through the sentence, like a question about a text.
/// Not among the tasks the embedded model was trained on (see <see cref="TaskGenerator.All"/>).
/// </summary>
public sealed class RecallTask : TaskGenerator
{
    private static readonly string[] Names = ["ann", "bob", "cal", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "liz"];
    private static readonly string[] Things = ["tea", "jam", "pie", "cup", "hat", "pen", "map", "box", "key", "egg", "fig", "nut"];

    /// <inheritdoc />
    public override string Name => "recall";

    /// <inheritdoc />
    public override bool HasForm(string prompt) =>
        prompt.EndsWith(" =>", StringComparison.Ordinal) && prompt.Contains(" has ", StringComparison.Ordinal);

    /// <inheritdoc />
    public override TaskExample Sample(Random rng)
    {
        int pairs = rng.Next(2, 4);
        var names = Pick(rng, Names, pairs);
        var things = Pick(rng, Things, pairs);
        int asked = rng.Next(pairs);
        string text = string.Join(" ", Enumerable.Range(0, pairs).Select(i => $"{names[i]} has {things[i]}"));
        return new TaskExample($"{text} {names[asked]} =>", things[asked]);
    }

    private static string[] Pick(Random rng, string[] from, int count)
    {
        var copy = (string[])from.Clone();
        rng.Shuffle(copy);
        return copy[..count];
    }
}

/// <summary>"reverse kqz1 =>" gives "1zqk".</summary>
/// <param name="text">What TEXT may be (default: <see cref="TaskText.Demo"/>, what the embedded model was trained on).</param>
/// <param name="runShare">Share of training texts drawn as runs (<see cref="TaskText.DrawRuns"/>); evaluation keeps the uniform draw.</param>
public sealed class ReverseTask(TaskText? text = null, double runShare = 0) : TextTask("reverse", text, runShare)
{
    /// <inheritdoc />
    public override TaskExample? Example => Text.Spaces ? new TaskExample("reverse abc 123 =>", "321 cba") : new TaskExample("reverse hello =>", "olleh");

    /// <inheritdoc />
    protected override string Answer(string text) => new(text.Reverse().ToArray());
}

/// <summary>A task of the form "verb TEXT =>" whose answer is worked out from TEXT alone.</summary>
/// <param name="verb">The prompt's first word, and the task's name.</param>
/// <param name="text">What TEXT may be (default: <see cref="TaskText.Demo"/>).</param>
/// <param name="runShare">Share of training texts drawn as runs (<see cref="TaskText.DrawRuns"/>).</param>
public abstract class TextTask(string verb, TaskText? text, double runShare = 0) : TaskGenerator
{
    private readonly double _runShare = runShare is >= 0 and <= 1
        ? runShare
        : throw new ArgumentOutOfRangeException(nameof(runShare), runShare, "a share must be within [0, 1]");

    /// <summary>What TEXT may be.</summary>
    public TaskText Text { get; } = text ?? TaskText.Demo;

    /// <inheritdoc />
    public override string Name => verb;

    /// <inheritdoc />
    public override bool HasForm(string prompt) => HasVerbForm(prompt, verb);

    /// <inheritdoc />
    public override string Form => $"{verb} TEXT =>";

    /// <inheritdoc />
    public override string Limits => $"TEXT {Text.Rule}";

    /// <inheritdoc />
    public override string? Problem(string prompt) => Text.Problem(Argument(prompt, verb));

    /// <inheritdoc />
    public override LengthBucket? Bucket(string prompt) => Thirds(Argument(prompt, verb).Length, Text.MinLength, Text.MaxLength);

    /// <inheritdoc />
    public override TaskExample Sample(Random rng) => Of(Text.Draw(rng));

    /// <inheritdoc />
    public override TaskExample TrainingSample(Random rng)
    {
        // Without a share no extra number is drawn, so the training stream is the evaluation's.
        return _runShare == 0 || rng.NextDouble() >= _runShare ? Sample(rng) : Of(Text.DrawRuns(rng));
    }

    private TaskExample Of(string text) => new($"{verb} {text} =>", Answer(text));

    /// <summary>The answer to TEXT.</summary>
    protected abstract string Answer(string text);
}

/// <summary>"sort 5 3 9 1 =>" gives "1 3 5 9".</summary>
/// <param name="minCount">Fewest numbers.</param>
/// <param name="maxCount">Most numbers.</param>
/// <param name="maxNumber">Largest number (9 or 99).</param>
/// <param name="longShare">
/// Share of training examples drawn from the longer half of the counts, which are the hard ones (a model trained
/// on the uniform draw over 1 to 10 numbers from 0 to 99 got 93% of 8 to 10 numbers right and every shorter list).
/// </param>
public sealed class SortTask(int minCount = 1, int maxCount = 10, int maxNumber = 99, double longShare = 0) : TaskGenerator
{
    /// <inheritdoc />
    public override string Name => "sort";

    /// <inheritdoc />
    public override bool HasForm(string prompt) => HasVerbForm(prompt, "sort");

    /// <inheritdoc />
    public override TaskExample? Example => maxNumber > 9 ? new TaskExample("sort 42 7 19 3 =>", "3 7 19 42") : new TaskExample("sort 5 3 9 1 =>", "1 3 5 9");

    /// <inheritdoc />
    public override string Form => "sort NUMBERS =>";

    /// <inheritdoc />
    public override string Limits => maxNumber > 9
        ? $"NUMBERS {minCount} to {maxCount} numbers from 0 to {maxNumber} (no leading zeros) separated by single spaces"
        : $"NUMBERS {minCount} to {maxCount} digits separated by single spaces";

    /// <inheritdoc />
    public override string? Problem(string prompt)
    {
        string[] numbers = Argument(prompt, "sort").Split(' ');
        foreach (string n in numbers)
        {
            if (n.Length == 0) return "NUMBERS has a space at the start or end, or two in a row";
            if (n.AsSpan().IndexOfAnyExceptInRange('0', '9') >= 0) return $"'{n}' is not a number from 0 to {maxNumber}";
            if (n.Length > 1 && n[0] == '0') return $"{n} has a leading zero";
            if (n.Length > 2 || int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) > maxNumber) return $"{n} is above {maxNumber}";
        }
        if (numbers.Length < minCount) return $"NUMBERS has {numbers.Length} number{(numbers.Length == 1 ? "" : "s")}, at least {minCount}";
        if (numbers.Length > maxCount) return $"NUMBERS has {numbers.Length} numbers, at most {maxCount}";
        return null;
    }

    /// <inheritdoc />
    public override LengthBucket? Bucket(string prompt) => Thirds(Argument(prompt, "sort").Split(' ').Length, minCount, maxCount);

    /// <inheritdoc />
    public override TaskExample Sample(Random rng) => Draw(rng, rng.Next(minCount, maxCount + 1));

    /// <inheritdoc />
    public override TaskExample TrainingSample(Random rng) =>
        // Without a share no extra number is drawn, so the training stream is the evaluation's.
        longShare == 0 || rng.NextDouble() >= longShare ? Sample(rng) : Draw(rng, rng.Next((minCount + maxCount) / 2 + 1, maxCount + 1));

    private TaskExample Draw(Random rng, int count)
    {
        // With two-digit numbers each is one digit or two with equal chance, so prompts of single digits
        // (sort 9 8 7 6 5 4 3 2 1 =>) are as common as two-digit ones.
        int[] numbers = Enumerable.Range(0, count)
            .Select(_ => maxNumber <= 9 ? rng.Next(maxNumber + 1) : rng.Next(2) == 0 ? rng.Next(10) : rng.Next(10, maxNumber + 1)).ToArray();
        return new TaskExample($"sort {string.Join(' ', numbers)} =>", string.Join(' ', numbers.Order()));
    }
}

/// <summary>
/// "12+345=" gives "357": operands up to three digits (<c>add4</c>: up to four). The sum is written most
/// significant digit first, as a user would read it, so each digit depends on the carries of all the digits
/// after it: the task that needs the most depth.
/// </summary>
/// <param name="maxDigits">Most digits of an operand.</param>
/// <param name="name">The task's name.</param>
/// <param name="carryRunShare">
/// Share of training examples drawn with many digit pairs that sum to 9, where whether a carry runs on depends
/// on the digits below (<c>1234+8766=</c>, <c>34+4162=</c>): with operands drawn uniformly long runs are rare,
/// and the embedded model's recipe trained only on those got about 5% of four-digit sums wrong, nearly all
/// such runs; half the runs have a shorter operand, above whose digits the longer one's 9s carry on.
/// Evaluation keeps the uniform draw.
/// </param>
/// <param name="longShare">
/// Share of the other training examples drawn with both operands of the two longest lengths: with digit counts
/// drawn uniformly only 3 in 16 sums have seven or eight digits, and those are where the carries run longest.
/// </param>
public sealed class AdditionTask(int maxDigits = 3, string name = "add", double carryRunShare = 0, double longShare = 0) : TaskGenerator
{
    private readonly double _carryRunShare = carryRunShare is >= 0 and <= 1
        ? carryRunShare
        : throw new ArgumentOutOfRangeException(nameof(carryRunShare), carryRunShare, "a share must be within [0, 1]");
    private readonly double _longShare = longShare is >= 0 and <= 1
        ? longShare
        : throw new ArgumentOutOfRangeException(nameof(longShare), longShare, "a share must be within [0, 1]");

    /// <inheritdoc />
    public override string Name => name;

    /// <inheritdoc />
    public override TaskExample Sample(Random rng)
    {
        int a = rng.Next((int)Math.Pow(10, rng.Next(1, maxDigits + 1))), b = rng.Next((int)Math.Pow(10, rng.Next(1, maxDigits + 1)));
        return Sum(a, b);
    }

    /// <inheritdoc />
    public override TaskExample TrainingSample(Random rng)
    {
        // Without a share no extra number is drawn, so the training stream of a task without one is unchanged.
        if (_carryRunShare == 0 || rng.NextDouble() >= _carryRunShare)
        {
            if (_longShare == 0 || rng.NextDouble() >= _longShare) return Sample(rng);
            return Sum(Operand(rng, rng.Next(Math.Max(1, maxDigits - 1), maxDigits + 1)), Operand(rng, rng.Next(Math.Max(1, maxDigits - 1), maxDigits + 1)));
        }
        // Digit pairs that sum to 9 pass a carry on exactly when one arrives from below: half the positions get
        // such a pair, so runs of them meet both a carry and none (4162+34=4196, 4162+38=4200, 1234+8766=10000).
        // Half the runs have a shorter operand, whose digit pairs sum to 9 or 10 (a carry passed on or made), and
        // above whose digits the longer operand's 9s (three in four) carry it on: 9999+1=10000, 4999+1=5000,
        // 991+9=1000, which a uniform draw almost never shows two nines deep.
        int digits = rng.Next(2, maxDigits + 1), shorter = rng.Next(2) == 0 ? digits : rng.Next(1, digits), a = 0, b = 0;
        for (int i = 0, place = 1; i < digits; i++, place *= 10)
        {
            int x, y = 0;
            if (shorter == digits)
            {
                x = rng.Next(10);
                y = rng.Next(2) == 0 ? 9 - x : rng.Next(10);
            }
            else if (i < shorter)
            {
                x = rng.Next(10);
                y = x > 0 && rng.Next(2) == 0 ? 10 - x : 9 - x;
            }
            else x = rng.Next(4) > 0 ? 9 : rng.Next(10);
            a += x * place;
            b += y * place;
        }
        if (rng.Next(2) == 0) (a, b) = (b, a);
        return Sum(a, b);
    }

    /// <inheritdoc />
    public override TaskExample? Example => maxDigits >= 4 ? Sum(1234, 5678) : Sum(12, 345);

    /// <inheritdoc />
    public override string Form => "A+B=";

    /// <inheritdoc />
    public override string Limits => $"A and B numbers of 1 to {maxDigits} digits (no leading zeros)";

    /// <inheritdoc />
    public override string? Problem(string prompt)
    {
        int plus = prompt.IndexOf('+');
        foreach (string operand in new[] { prompt[..plus], prompt[(plus + 1)..^1] })
        {
            if (operand.Length > maxDigits) return $"{operand} has {operand.Length} digits, at most {maxDigits}";
            if (operand.Length > 1 && operand[0] == '0') return $"{operand} has a leading zero";
        }
        return null;
    }

    /// <inheritdoc />
    public override LengthBucket? Bucket(string prompt)
    {
        // By the digits of both operands together (2 to twice the most).
        return Thirds(prompt.Length - 2, 2, 2 * maxDigits);
    }

    /// <inheritdoc />
    public override bool HasForm(string prompt)
    {
        int plus = prompt.IndexOf('+');
        return plus > 0 && prompt.EndsWith('=') && plus < prompt.Length - 2
            && prompt.AsSpan(0, plus).IndexOfAnyExceptInRange('0', '9') < 0
            && prompt.AsSpan(plus + 1, prompt.Length - plus - 2).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    private static int Operand(Random rng, int digits) =>
        digits == 1 ? rng.Next(10) : rng.Next((int)Math.Pow(10, digits - 1), (int)Math.Pow(10, digits));

    private static TaskExample Sum(int a, int b) =>
        new($"{a}+{b}=", (a + b).ToString(System.Globalization.CultureInfo.InvariantCulture));
}
