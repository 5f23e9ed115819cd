using System.Diagnostics;

namespace FiRST.Training;

/// <summary>The training loops' log lines: every step moves a bar, and some steps also print a line with the time left.</summary>
internal static class StepLog
{
    /// <summary>
    /// The time left after step <paramref name="step"/> (from 0) of <paramref name="steps"/> at the pace so far when
    /// that step prints a line (every <paramref name="every"/>th from the first, and the last); null when it does not.
    /// </summary>
    public static TimeSpan? Eta(Stopwatch clock, int step, int steps, int every) =>
        step % every == 0 || step == steps - 1
            ? TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / (step + 1) * (steps - step - 1))
            : null;
}
