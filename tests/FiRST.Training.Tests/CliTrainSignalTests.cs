using System.Text.RegularExpressions;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Training.Tests;

/// <summary>
/// Ctrl+C and SIGTERM, sent to a real <c>first-train train-routers</c> process: training stops before the next
/// optimizer step, says after how many, saves no routers and exits with 130.
/// </summary>
public sealed class CliTrainSignalTests
{
    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_signal_stops_train_routers_within_a_step_and_saves_nothing(string signal)
    {
        if (!OperatingSystem.IsLinux()) return; // kill(1) and POSIX signals
        string dir = Directory.CreateTempSubdirectory("first-train-signal").FullName;
        try
        {
            string routers = Path.Combine(dir, "s.routers.bin");
            // 100000 steps would take hours; the signal comes once the first step has reported.
            var r = await SignalledProcess.Run("first-train.dll", signal, (_, stderr) => stderr.Contains("step    1/"), TimeSpan.FromSeconds(90),
                "train-routers", "--model", RouterTests.Stories260K, "--self-generated", "--samples", "8", "--eval-prompts", "2",
                "--steps", "100000", "--batch", "2", "--out", routers);
            Assert.True(r.Signalled, "train-routers ended before its first step: " + r.Stderr);
            Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}: {r.Stderr}");
            var stop = Regex.Match(r.Stderr.ReplaceLineEndings("\n"), $@"not written: {Regex.Escape(routers)}\nfirst-train: stop: Cancelled after (\d+) of 100000 steps\n$");
            Assert.True(stop.Success, r.Stderr);
            Assert.False(File.Exists(routers));
            Assert.Equal("", r.Stdout);
            // Stopped mid-run: far fewer steps than asked for (counted, not timed).
            Assert.InRange(int.Parse(stop.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 99_999);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
