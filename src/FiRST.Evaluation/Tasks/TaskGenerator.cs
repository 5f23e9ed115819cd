namespace FiRST.Evaluation.Tasks;

/// <summary>One example: what the user types and the exact answer expected.</summary>
public readonly record struct TaskExample(string Prompt, string Answer);

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
    public static IReadOnlyList<TaskGenerator> Standard { get; } = [new CopyTask(), new ReverseTask(), new SortTask(), new AdditionTask(4, "add4", carryRunShare: 0.3)];

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

    /// <summary>"verb … =>": a prompt that starts with <paramref name="verb"/> and a space and ends with " =>".</summary>
    protected static bool HasVerbForm(string prompt, string verb) =>
        prompt.Length > verb.Length + 4 && prompt.StartsWith(verb + " ", StringComparison.Ordinal) && prompt.EndsWith(" =>", StringComparison.Ordinal);

    /// <summary>A random string of <paramref name="length"/> symbols from <paramref name="alphabet"/>.</summary>
    protected static string Word(Random rng, string alphabet, int length) =>
        new(Enumerable.Range(0, length).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());

    /// <summary>Lower-case letters and digits.</summary>
    protected const string Symbols = "abcdefghijklmnopqrstuvwxyz0123456789";
}

/// <summary>"copy kqz1 =>" gives "kqz1".</summary>
public sealed class CopyTask : TaskGenerator
{
    /// <inheritdoc />
    public override string Name => "copy";

    /// <inheritdoc />
    public override bool HasForm(string prompt) => HasVerbForm(prompt, "copy");

    /// <inheritdoc />
    public override TaskExample Sample(Random rng)
    {
        string w = Word(rng, Symbols, rng.Next(3, 9));
        return new TaskExample($"copy {w} =>", w);
    }
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
public sealed class ReverseTask : TaskGenerator
{
    /// <inheritdoc />
    public override string Name => "reverse";

    /// <inheritdoc />
    public override bool HasForm(string prompt) => HasVerbForm(prompt, "reverse");

    /// <inheritdoc />
    public override TaskExample Sample(Random rng)
    {
        string w = Word(rng, Symbols, rng.Next(3, 9));
        return new TaskExample($"reverse {w} =>", new string(w.Reverse().ToArray()));
    }
}

/// <summary>"sort 5 3 9 1 =>" gives "1 3 5 9".</summary>
public sealed class SortTask : TaskGenerator
{
    /// <inheritdoc />
    public override string Name => "sort";

    /// <inheritdoc />
    public override bool HasForm(string prompt) => HasVerbForm(prompt, "sort");

    /// <inheritdoc />
    public override TaskExample Sample(Random rng)
    {
        int[] digits = Enumerable.Range(0, rng.Next(3, 8)).Select(_ => rng.Next(10)).ToArray();
        return new TaskExample($"sort {string.Join(' ', digits)} =>", string.Join(' ', digits.Order()));
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
/// such runs. Evaluation keeps the uniform draw.
/// </param>
public sealed class AdditionTask(int maxDigits = 3, string name = "add", double carryRunShare = 0) : TaskGenerator
{
    private readonly double _carryRunShare = carryRunShare is >= 0 and <= 1
        ? carryRunShare
        : throw new ArgumentOutOfRangeException(nameof(carryRunShare), carryRunShare, "a share must be within [0, 1]");

    /// <inheritdoc />
    public override string Name => name;

    /// <inheritdoc />
    public override TaskExample Sample(Random rng)
    {
        int a = rng.Next((int)Math.Pow(10, rng.Next(1, maxDigits + 1))), b = rng.Next((int)Math.Pow(10, rng.Next(1, maxDigits + 1)));
        return Example(a, b);
    }

    /// <inheritdoc />
    public override TaskExample TrainingSample(Random rng)
    {
        // Without a share no extra number is drawn, so the training stream of a task without one is unchanged.
        if (_carryRunShare == 0 || rng.NextDouble() >= _carryRunShare) return Sample(rng);
        // Digit pairs that sum to 9 pass a carry on exactly when one arrives from below: half the positions get
        // such a pair, so runs of them meet both a carry and none (4162+34=4196, 4162+38=4200, 1234+8766=10000).
        int digits = rng.Next(2, maxDigits + 1), a = 0, b = 0;
        for (int i = 0, place = 1; i < digits; i++, place *= 10)
        {
            int x = rng.Next(10), y = rng.Next(2) == 0 ? 9 - x : rng.Next(10);
            a += x * place;
            b += y * place;
        }
        return Example(a, b);
    }

    /// <inheritdoc />
    public override bool HasForm(string prompt)
    {
        int plus = prompt.IndexOf('+');
        return plus > 0 && prompt.EndsWith('=') && plus < prompt.Length - 2
            && prompt.AsSpan(0, plus).IndexOfAnyExceptInRange('0', '9') < 0
            && prompt.AsSpan(plus + 1, prompt.Length - plus - 2).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    private static TaskExample Example(int a, int b) =>
        new($"{a}+{b}=", (a + b).ToString(System.Globalization.CultureInfo.InvariantCulture));
}
