namespace FiRST.Runtime.Kernels;

/// <summary>
/// A barrier for the threads of one <see cref="WorkerPool.RunTeam"/> job: each waits, spinning, until all
/// have arrived. Between the matrix products of one token the wait is a few hundred nanoseconds, far less
/// than a fork/join through the pool; a thread that fails calls <see cref="Abort"/> so the others stop
/// waiting instead of hanging.
/// </summary>
internal sealed class SpinBarrier(int parties)
{
    // The count every thread increments and the phase every waiter polls sit on different cache lines, so
    // the waiters' reads do not keep taking the line away from the arriving threads' increments.
    private Counters _c;
    private ref int _arrived => ref _c.Arrived;
    private ref int _phase => ref _c.Phase;
    private volatile bool _aborted;

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 192)]
    private struct Counters
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public int Arrived;
        [System.Runtime.InteropServices.FieldOffset(128)] public int Phase;
    }

    /// <summary>Threads that meet at the barrier.</summary>
    public int Parties { get; } = parties;

    /// <summary>Makes the barrier usable again after an abort; call only while no thread is inside.</summary>
    public void Reset()
    {
        _arrived = 0;
        _aborted = false;
    }

    /// <summary>Waits until all <see cref="Parties"/> threads have called it.</summary>
    /// <exception cref="AbortedException">Another thread called <see cref="Abort"/>.</exception>
    public void Wait()
    {
        if (Parties == 1) return;
        int phase = Volatile.Read(ref _phase);
        if (Interlocked.Increment(ref _arrived) == Parties)
        {
            // Last to arrive: reset the count before releasing the others, who only touch it again after.
            _arrived = 0;
            Volatile.Write(ref _phase, phase + 1);
            return;
        }
        // Pause-spin for a while before yielding: the others arrive within microseconds, and a yield (what
        // SpinWait falls back to after ten rounds) can hand the core to another runnable thread for a whole
        // time slice, which on a shared 2-core machine made a token several times slower.
        int spins = 0;
        while (Volatile.Read(ref _phase) == phase)
        {
            if (_aborted) throw new AbortedException();
            if (++spins < WorkerPool.PauseSpins) Thread.SpinWait(1);
            else Thread.Yield();
        }
    }

    /// <summary>Releases every waiting thread with <see cref="AbortedException"/>.</summary>
    public void Abort() => _aborted = true;

    /// <summary>Thrown to threads waiting at an aborted barrier.</summary>
    public sealed class AbortedException() : Exception("another thread of the team failed");
}
