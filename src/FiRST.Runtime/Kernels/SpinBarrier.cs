using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// A barrier for the threads of one <see cref="WorkerPool.RunTeam"/> job: each waits until all have arrived.
/// A waiter checks the barrier continuously for up to a millisecond (between the matrix products of one token
/// the others arrive within microseconds, far sooner than a fork/join through the pool) and then blocks until
/// released. The spin is that long because a waiter that blocks wakes late for the next barrier, where the
/// others then block too: with a 50 µs spin every barrier became a sleep and wake, and 2-thread decode ran at
/// half the generic loop's speed. A team with more threads than the machine has cores blocks at once: a
/// thread that keeps the core spinning or yielding (the scheduler may hand the core straight back) starves
/// the one it waits for, which made a 3-thread token on 2 cores take tens of milliseconds. A thread that fails calls
/// <see cref="Abort"/> so the others stop waiting instead of hanging.
/// </summary>
internal sealed class SpinBarrier(int parties)
{
    /// <summary>How long a waiter checks the barrier before it blocks, when every thread can have a core.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 1000;

    private readonly long _spinTicks = parties <= Environment.ProcessorCount ? SpinTicks : 0;

    // The count every thread increments and the phase every waiter polls sit on different cache lines, so
    // the waiters' reads do not keep taking the line away from the arriving threads' increments.
    private Counters _c;
    private readonly object _gate = new();
    private volatile bool _aborted;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Counters
    {
        [FieldOffset(64)] public int Arrived;
        [FieldOffset(128)] public int Phase;
        [FieldOffset(192)] public int Sleepers;
    }

    /// <summary>Threads that meet at the barrier.</summary>
    public int Parties { get; } = parties;

    /// <summary>Makes the barrier usable again after an abort; call only while no thread is inside.</summary>
    public void Reset()
    {
        _c.Arrived = 0;
        _aborted = false;
    }

    /// <summary>Waits until all <see cref="Parties"/> threads have called it.</summary>
    /// <exception cref="AbortedException">Another thread called <see cref="Abort"/>.</exception>
    public void Wait()
    {
        if (Parties == 1) return;
        int phase = Volatile.Read(ref _c.Phase);
        if (Interlocked.Increment(ref _c.Arrived) == Parties)
        {
            // Last to arrive: reset the count before releasing the others, who only touch it again after.
            // The exchange is a full fence, so a waiter that registered as a sleeper before it is seen below.
            _c.Arrived = 0;
            Interlocked.Exchange(ref _c.Phase, phase + 1);
            if (Volatile.Read(ref _c.Sleepers) > 0)
                lock (_gate) Monitor.PulseAll(_gate);
            return;
        }

        long start = Stopwatch.GetTimestamp();
        int polls = 0;
        while (Volatile.Read(ref _c.Phase) == phase)
        {
            if (_aborted) throw new AbortedException();
            // One pause instruction per poll: Thread.SpinWait(1) is calibrated to several, which made each
            // barrier overshoot by about half a microsecond (measured: 0.9 µs per barrier, 20 per token).
            if ((++polls & 63) != 0 || Stopwatch.GetTimestamp() - start < _spinTicks)
            {
                if (X86Base.IsSupported) X86Base.Pause();
                else Thread.SpinWait(1);
                continue;
            }
            lock (_gate)
            {
                Interlocked.Increment(ref _c.Sleepers);
                // Checked under the lock after registering: the releaser's pulse cannot fall between.
                while (Volatile.Read(ref _c.Phase) == phase && !_aborted) Monitor.Wait(_gate, 10);
                Interlocked.Decrement(ref _c.Sleepers);
            }
        }
    }

    /// <summary>Releases every waiting thread with <see cref="AbortedException"/>.</summary>
    public void Abort()
    {
        _aborted = true;
        lock (_gate) Monitor.PulseAll(_gate);
    }

    /// <summary>Thrown to threads waiting at an aborted barrier.</summary>
    public sealed class AbortedException() : Exception("another thread of the team failed");
}
