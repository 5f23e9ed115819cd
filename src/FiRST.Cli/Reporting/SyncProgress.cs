namespace FiRST.Cli.Reporting;

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (<c>Progress&lt;T&gt;</c> would post to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc />
    public void Report(T value) => report(value);
}
