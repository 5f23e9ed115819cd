using System.Text;
using Microsoft.CodeAnalysis;
using Shouldly;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Gen.Tests;

/// <summary>
/// The generator must never throw into the compiler: randomly damaged profiles either generate code that
/// compiles or give FIRST diagnostics, never an exception. Two valid profiles are damaged: stories260K
/// (first.profile/1) and the demo model's with speculation plans and early-exit thresholds (first.profile/2).
/// A fixed seed gives the same 2,000 cases of each every run (a regression corpus); a seed chosen per run
/// (printed and named in every failure; FIRST_FUZZ_SEED=n replays it, as for the runtime's fuzz tests) adds
/// 400 new ones of each.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const string Path = "models/stories260K.first.json";
    private const int Iterations = 2000;
    private const int ExtraIterations = 400;
    private const string Significant = "{}[],:\"\\-0123456789.eE tfn";

    [Fact]
    public void Mutated_profiles_never_crash_the_generator()
    {
        string? text = Environment.GetEnvironmentVariable("FIRST_FUZZ_SEED");
        int runSeed = string.IsNullOrWhiteSpace(text) ? Random.Shared.Next()
            : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int s) ? s
            : throw new InvalidOperationException($"FIRST_FUZZ_SEED='{text}': expected a non-negative 32-bit integer");
        output.WriteLine($"run seed {runSeed} (FIRST_FUZZ_SEED={runSeed} replays it)");

        foreach (string input in new[] { "stories260K.first.json", "demo-speculative.first.json" })
        {
            var (generated, rejected, ids) = Fuzz(input, new Random(20240611), Iterations, $"{input}, fixed seed 20240611");
            output.WriteLine($"{input}, fixed seed: {generated} generated, {rejected} rejected with {string.Join(", ", ids)}");
            // The mutations must exercise both outcomes and several kinds of error.
            generated.ShouldBeGreaterThan(20);
            rejected.ShouldBeGreaterThan(500);
            ids.ShouldContain("FIRST002");
            ids.ShouldContain("FIRST003");
            if (input.StartsWith("demo", StringComparison.Ordinal))
            {
                // ...and, where the profile has them, the rules of the early-exit thresholds and speculation plans.
                ids.ShouldContain("FIRST009");
                ids.ShouldContain("FIRST010");
            }

            var extra = Fuzz(input, new Random(runSeed), ExtraIterations, $"{input}, run seed {runSeed}, replay with FIRST_FUZZ_SEED={runSeed}");
            output.WriteLine($"{input}, run seed: {extra.Generated} generated, {extra.Rejected} rejected with {string.Join(", ", extra.Ids)}");
        }
    }

    private (int Generated, int Rejected, SortedSet<string> Ids) Fuzz(string input, Random random, int iterations, string corpus)
    {
        string valid = TestHelpers.Input(input);
        var compilation = TestHelpers.CreateCompilation(TestHelpers.ModelClass("StoriesModel", Path));
        int generated = 0, rejected = 0, compiled = 0;
        var ids = new SortedSet<string>();

        for (int n = 0; n < iterations; n++)
        {
            string i = $"{n} ({corpus})";
            string text = Mutate(valid, random);
            var driver = TestHelpers.CreateDriver(new InMemoryAdditionalText("/repo/app/" + Path, text));
            driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var outputCompilation, out _);
            var result = driver.GetRunResult().Results.ShouldHaveSingleItem();

            result.Exception.ShouldBeNull($"iteration {i}: {text}");
            foreach (var d in result.Diagnostics)
            {
                // Every id but FIRST008 (the generator's own failure).
                d.Id.ShouldMatch("^FIRST(00[1-7]|009|010)$", $"iteration {i}: {d} for {text}");
                d.Severity.ShouldBe(DiagnosticSeverity.Error);
                ids.Add(d.Id);
            }
            if (result.GeneratedSources.Length == 1)
            {
                result.Diagnostics.ShouldBeEmpty();
                generated++;
                // A mutation the generator accepts must still give code that compiles; checking every one
                // would be slow, so a sample.
                if (compiled < 40 && generated % 10 == 1)
                {
                    var problems = outputCompilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
                    problems.ShouldBeEmpty($"iteration {i}: {string.Join("\n", problems)} for {text}");
                    compiled++;
                }
            }
            else
            {
                result.GeneratedSources.ShouldBeEmpty();
                result.Diagnostics.ShouldNotBeEmpty($"iteration {i}: no source and no diagnostic for {text}");
                rejected++;
            }
        }

        output.WriteLine($"{corpus}: {compiled} generated files compiled");
        return (generated, rejected, ids);
    }

    /// <summary>One to three random edits: character flips, deletions, insertions, truncation, digit edits.</summary>
    internal static string Mutate(string text, Random random)
    {
        var sb = new StringBuilder(text);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && sb.Length > 0; e++)
        {
            int pos = random.Next(sb.Length);
            switch (random.Next(7))
            {
                case 0: // flip to any character, control characters and surrogates included
                    sb[pos] = (char)random.Next(0, 0xFFFF);
                    break;
                case 1: // flip to a JSON-significant character
                    sb[pos] = Significant[random.Next(Significant.Length)];
                    break;
                case 2:
                    sb.Remove(pos, 1);
                    break;
                case 3:
                    sb.Insert(pos, Significant[random.Next(Significant.Length)]);
                    break;
                case 4:
                    sb.Length = pos;
                    break;
                case 5: // digit edit: change a digit, or grow a number
                case 6:
                    var digits = Enumerable.Range(0, sb.Length).Where(k => char.IsAsciiDigit(sb[k])).ToList();
                    if (digits.Count == 0) break;
                    int d = digits[random.Next(digits.Count)];
                    if (random.Next(3) == 0) sb.Insert(d, random.Next(10).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    else sb[d] = (char)('0' + random.Next(10));
                    break;
            }
        }
        return sb.ToString();
    }
}
