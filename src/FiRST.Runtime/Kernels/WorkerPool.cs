namespace FiRST.Runtime.Kernels;

/// <summary>
/// A unit of parallel work: <see cref="Execute"/> is called for disjoint index ranges that together cover
/// <c>[0, count)</c>. Jobs are long-lived objects whose fields the caller sets before each run, so running
/// one allocates nothing.
/// </summary>
internal abstract class ParallelJob
{
    /// <summary>Processes indices <c>[start, end)</c>.</summary>
    public abstract void Execute(int start, int end);

    /// <summary>
    /// Which of the pool's threads runs the current <see cref="Execute"/> call (0 is the calling thread), for
    /// jobs that need per-thread scratch memory.
    /// </summary>
    protected static int CurrentThread => WorkerPool.CurrentPart;
}

/// <summary>
/// A fixed set of worker threads that split a <see cref="ParallelJob"/>'s index range with the calling
/// thread. Workers spin briefly between jobs (decode issues matrix-vector products back to back) and then
/// sleep, so an idle pool costs nothing. No per-call allocation: no tasks, closures or delegates.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 20000;

    /// <summary>
    /// False when the pool has more threads than the machine has cores: then nobody spins (workers sleep
    /// between jobs, the caller sleeps while they finish), because a spinning thread holds the core the thread
    /// it waits for needs. Spinning there made every fork/join cost a scheduler time slice (measured: 64 ms
    /// per token for the embedded model at 3 threads on 2 cores, against 0.12 ms at 2 threads).
    /// </summary>
    private readonly bool _spin;

    private int _callerWaiting;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private ParallelJob? _job;
    private int _count;
    private int _chunk;
    private int _next;
    private long _generation;
    private int _pending;
    private int _sleepers;
    private bool _team;
    private volatile bool _disposed;
    private Exception? _failure;

    /// <summary>Creates a pool in which <paramref name="threads"/> threads (the caller included) share each job.</summary>
    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread is needed");
        Threads = threads;
        _spin = threads <= Environment.ProcessorCount;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int part = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(part)) { IsBackground = true, Name = $"FiRST worker {part}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads that share each job, the caller's included.</summary>
    public int Threads { get; }

    /// <summary>The default thread count: one per processor core.</summary>
    public static int DefaultThreads => Environment.ProcessorCount;

    /// <summary>
    /// Runs <paramref name="job"/> over <c>[0, count)</c>, split into contiguous chunks of whole multiples of
    /// <paramref name="grain"/> that the threads take in turn. Returns when every chunk is done. Not
    /// reentrant: one job at a time per pool.
    /// </summary>
    public void Run(ParallelJob job, int count, int grain = 1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_workers.Length == 0 || count <= grain)
        {
            t_part = 0;
            job.Execute(0, count);
            return;
        }
        _job = job;
        _count = count;
        // About four chunks per thread: enough to even out late starters, few enough that the shared
        // counter is not contended.
        int units = (count + grain - 1) / grain;
        _chunk = Math.Max(1, units / (Threads * 4)) * grain;
        _next = 0;
        Volatile.Write(ref _pending, _workers.Length);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_gate) Monitor.PulseAll(_gate);

        RunPart(0);

        WaitForWorkers();
        _job = null;
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException("a worker thread failed", failure);
        }
    }

    /// <summary>
    /// Runs <paramref name="job"/> once on every thread of the pool, the caller included:
    /// <c>Execute(part, part + 1)</c> where <c>part</c> is the thread's fixed index (0 for the caller, worker
    /// <c>i</c> always <c>i</c>). For jobs whose threads cooperate through barriers and own the same data
    /// on every call, so each core keeps its share in its own cache. The job must not throw: a thread
    /// that fails while the others wait at a barrier would leave them waiting.
    /// </summary>
    public void RunTeam(ParallelJob job)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_workers.Length == 0)
        {
            t_part = 0;
            job.Execute(0, 1);
            return;
        }
        _job = job;
        _team = true;
        Volatile.Write(ref _pending, _workers.Length);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_gate) Monitor.PulseAll(_gate);

        t_part = 0;
        job.Execute(0, 1);

        WaitForWorkers();
        _job = null;
        _team = false;
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException("a worker thread failed", failure);
        }
    }

    /// <summary>Waits for the workers' share of the job: spinning, or asleep where the pool has more threads than cores.</summary>
    private void WaitForWorkers()
    {
        if (_spin)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(-1);
            return;
        }
        lock (_gate)
        {
            // The exchange is a full fence: a worker that brings _pending to 0 after the check below sees it.
            Interlocked.Exchange(ref _callerWaiting, 1);
            while (Volatile.Read(ref _pending) != 0) Monitor.Wait(_gate, 10);
            Interlocked.Exchange(ref _callerWaiting, 0);
        }
    }

    [ThreadStatic]
    private static int t_part;

    internal static int CurrentPart => t_part;

    /// <summary>
    /// Takes chunks from a shared counter until none are left. Chunks rather than one fixed share per thread,
    /// so a thread that starts late (woken from sleep, preempted) does not leave the others waiting.
    /// </summary>
    private void RunPart(int part)
    {
        t_part = part;
        var job = _job!;
        if (_team)
        {
            job.Execute(part, part + 1);
            return;
        }
        int count = _count, chunk = _chunk;
        while (true)
        {
            int start = Interlocked.Add(ref _next, chunk) - chunk;
            if (start >= count) return;
            job.Execute(start, Math.Min(count, start + chunk));
        }
    }

    private void WorkerLoop(int part)
    {
        long seen = 0;
        while (true)
        {
            long current = Volatile.Read(ref _generation);
            if (current == seen)
            {
                for (int i = 0; _spin && i < SpinIterations && (current = Volatile.Read(ref _generation)) == seen && !_disposed; i++)
                    Thread.SpinWait(8);
                if (current == seen)
                {
                    lock (_gate)
                    {
                        Interlocked.Increment(ref _sleepers);
                        while ((current = Volatile.Read(ref _generation)) == seen && !_disposed) Monitor.Wait(_gate);
                        Interlocked.Decrement(ref _sleepers);
                    }
                }
            }
            if (_disposed) return;
            seen = current;
            try
            {
                RunPart(part);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            if (Interlocked.Decrement(ref _pending) == 0 && Volatile.Read(ref _callerWaiting) != 0)
                lock (_gate) Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Stops the worker threads and waits for them to end.</summary>
    public void Dispose()
    {
        Release();
        foreach (var t in _workers) t.Join();
    }

    /// <summary>Tells the worker threads to end without waiting for them (safe from a finalizer).</summary>
    internal void Release()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate) Monitor.PulseAll(_gate);
    }
}
