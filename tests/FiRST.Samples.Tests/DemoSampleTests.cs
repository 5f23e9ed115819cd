using FiRST.Samples.Tests.Support;
using Xunit;

namespace FiRST.Samples.Tests;

/// <summary>samples/FiRST.Demo, run as a process: every in-grammar answer is right, on the generated path for its mask.</summary>
public sealed class DemoSampleTests
{
    private static (int Code, string Output) RunDemo(params string[] args) =>
        Processes.Run(TimeSpan.FromMinutes(3), Repository.Root, "dotnet", [Repository.SampleDll("FiRST.Demo"), .. args]);

    [Fact]
    public void Each_task_prompt_is_answered_right_on_its_generated_path()
    {
        var (code, output) = RunDemo();

        Assert.True(code == 0, output);
        var lines = output.Split('\n');
        // prompt, answer, correct, path (reason), mask: the routers (trained to the profile's masks) give each
        // prompt its task's mask, and the generated path of that mask serves it; copy and sort share one.
        foreach (var (prompt, answer, path, mask) in new[]
                 {
                     ("copy kqz1 =>", "kqz1", "CopyPath (Exact)", "11111000"),
                     ("reverse hello =>", "olleh", "ReversePath (Exact)", "11111010"),
                     ("sort 9 9 1 4 0 =>", "0 1 4 9 9", "CopyPath (Exact)", "11111000"),
                     ("1234+5678=", "6912", "Add4Path (Exact)", "11110000"),
                 })
        {
            string line = Assert.Single(lines, l => l.StartsWith(prompt + " ", StringComparison.Ordinal));
            Assert.Equal([answer, "yes", path, mask], Columns(line, prompt));
        }
    }

    [Fact]
    public void A_prompt_argument_streams_its_answer()
    {
        var (code, output) = RunDemo("reverse abc1 =>");

        Assert.True(code == 0, output);
        Assert.StartsWith("reverse abc1 => 1cba\n", output);
        Assert.Contains("path ReversePath (Exact), layers 11111010", output);
    }

    // The answer, correct, path and layers columns of a table row: the prompt's 18 characters and a space, then
    // fields of 10, 8, 22 and 9 characters, each followed by a space. (Starting one character early cut the last
    // character of a 22-character path such as "ReversePath (Superset)".)
    private static string[] Columns(string line, string prompt)
    {
        string rest = line[19..];
        return [rest[..10].Trim(), rest[11..19].Trim(), rest[20..42].Trim(), rest[43..52].Trim()];
    }
}
