using FiRST.Evaluation;

namespace FiRST.Cli.Reporting;

/// <summary>Progress as plain lines: each report's line, if it has one; bars-only reports print nothing.</summary>
internal sealed class PlainProgress(TextWriter error) : ProgressReporter
{
    /// <inheritdoc />
    public override T Run<T>(Func<Action<PassProgress>, T> work) => work(p =>
    {
        if (p.Line is { } line) error.WriteLine(line);
    });
}
