namespace FiRST.Runtime;

/// <summary>
/// A long loop (training, calibration, a benchmark) stopped by its cancellation token between two of its steps,
/// with how far it got, so that a tool can say so ("after 37 of 200 steps") instead of only "cancelled".
/// </summary>
public sealed class RunCancelledException : OperationCanceledException
{
    /// <summary>A loop stopped after <paramref name="done"/> of <paramref name="total"/> <paramref name="units"/>.</summary>
    public RunCancelledException(int done, int total, string units, CancellationToken cancellationToken)
        : base($"cancelled after {done} of {total} {units}", cancellationToken)
    {
        Done = done;
        Total = total;
        Units = units;
    }

    /// <summary>Steps finished before the loop stopped.</summary>
    public int Done { get; }

    /// <summary>Steps the loop would have run.</summary>
    public int Total { get; }

    /// <summary>What a step is, in the plural: <c>steps</c>, <c>runs</c>, <c>rounds</c>.</summary>
    public string Units { get; }

    /// <summary>How far the loop got: <c>37 of 200 steps</c>.</summary>
    public string Reached => $"{Done} of {Total} {Units}";

    /// <summary>
    /// Throws when <paramref name="cancellationToken"/> is cancelled. Allocates nothing otherwise, so a loop calls
    /// it at every step.
    /// </summary>
    public static void ThrowIfCancelled(CancellationToken cancellationToken, int done, int total, string units)
    {
        if (cancellationToken.IsCancellationRequested) throw new RunCancelledException(done, total, units, cancellationToken);
    }
}
