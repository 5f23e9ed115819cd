using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// <c>first generate</c> with self-speculation, early exit and a path policy on the embedded model: greedy text
/// unchanged by speculation, and the statistics line naming the path, its reason and what each strategy did.
/// One thread: the answers are a few tokens, and a second thread only adds scheduling noise on a shared machine.
/// </summary>
public sealed class CliDecodingTests
{
    private static readonly string[] Prompts = ["copy kqz1 =>", "reverse hello =>", "1234+5678=", "sort 5 3 9 1 =>", "hello"];

    // "hello" is no task's prompt: sent raw, the routers choose its layers.
    private static FirstCli.Result Generate(string prompt, params string[] extra) =>
        FirstCli.Run(["generate", "--prompt", prompt, "--temperature", "0", "--threads", "1", .. extra, .. prompt == "hello" ? new[] { "--raw-prompt" } : []]);

    private static string Text(FirstCli.Result r) => Encoding.UTF8.GetString(r.StdoutBytes);

    [Fact]
    public void SpeculationLeavesGreedyTextUnchangedAndReportsItsAcceptance()
    {
        // Task prompts run their pinned paths, "hello" a routed one; --routers none the full model.
        foreach (var extra in new[] { Array.Empty<string>(), ["--routers", "none"] })
            foreach (string prompt in Prompts)
            {
                var plain = Generate(prompt, extra);
                var speculated = Generate(prompt, [.. extra, "--speculate", "3:4"]);
                Assert.True(plain.ExitCode == 0, plain.Stderr);
                Assert.True(speculated.ExitCode == 0, speculated.Stderr);
                Assert.Equal(Text(plain), Text(speculated));
                var accepted = Regex.Match(speculated.Stderr, @"\| speculate: 3:4, (\d+)% accepted\n");
                Assert.True(accepted.Success, speculated.Stderr);
                Assert.InRange(int.Parse(accepted.Groups[1].Value, CultureInfo.InvariantCulture), 0, 100);
                Assert.DoesNotContain("speculate", plain.Stderr);
            }
        // The copy prompt's path: pinned by the prompt's form, and the reason says so.
        Assert.Contains("| layers: 11111000 | path: CopyPath (pinned) | speculate: 3:4, ", Generate("copy kqz1 =>", "--speculate", "3:4").Stderr);
    }

    [Fact]
    public void SpeculateAutoRunsTheCalibratedPlanOrSaysThereIsNone()
    {
        var plain = Generate("copy kqz1 =>");
        var auto = Generate("copy kqz1 =>", "--speculate", "auto");
        Assert.True(auto.ExitCode == 0, auto.Stderr);
        Assert.Equal(Text(plain), Text(auto));
        Assert.Matches(@"\| speculate: (\d+:\d+, \d+% accepted|off \(the path has no calibrated plan\))\n", auto.Stderr);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("0.5")]
    public void EarlyExitDecodesTheFullModelDynamicallyAndReportsTheExits(string threshold)
    {
        var r = Generate("copy kqz1 =>", "--early-exit", threshold);
        Assert.True(r.ExitCode == 0, r.Stderr);
        // Not the task path: the full model on the generic loop, where the exits skip the layers.
        Assert.Contains("| layers: 11111111 | path: generic (dynamic) | early exit: ", r.Stderr);
        Assert.DoesNotContain("task: ", r.Stderr);
        var exit = Regex.Match(r.Stderr, @"\| early exit: (\d+)% of tokens, mean depth (\d+\.\d) layers\n");
        Assert.True(exit.Success, r.Stderr);
        int share = int.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture);
        double depth = double.Parse(exit.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(share, 0, 100);
        Assert.InRange(depth, 1, 8);
        // At 0.5 the demo model is sure of most tokens after a few layers (measured: every token, 2.4 layers).
        // At 1 a token leaves only where float32 rounds its top probability to exactly 1, which happens too.
        if (threshold == "0.5") Assert.True(depth < 8 && share > 0, r.Stderr);
    }

    [Fact]
    public void EarlyExitWithATaskRunsTheTasksMaskOnTheGenericLoop()
    {
        var r = Generate("copy kqz1 =>", "--early-exit", "0.9", "--task", "copy");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("| layers: 11111000 | path: generic (dynamic) | early exit: ", r.Stderr);
    }

    [Fact]
    public void PolicyDynamicRunsTheGenericLoopAndExactKeepsTheCompiledPath()
    {
        var dynamic = Generate("copy kqz1 =>", "--policy", "dynamic");
        Assert.True(dynamic.ExitCode == 0, dynamic.Stderr);
        Assert.Contains("| layers: 11111000 | path: generic (dynamic)\n", dynamic.Stderr);
        Assert.Equal(Text(Generate("copy kqz1 =>")), Text(dynamic));

        // "hello" is routed: the routers' mask, on its compiled path when there is one.
        var exact = Generate("hello", "--policy", "exact");
        Assert.True(exact.ExitCode == 0, exact.Stderr);
        Assert.Matches(@"\| path: (CopyPath|ReversePath|SortPath|Add4Path|FullPath) \(exact\)\n|\| path: generic \(dynamic\)\n", exact.Stderr);
    }
}
