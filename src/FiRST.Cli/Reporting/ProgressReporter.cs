using FiRST.Evaluation;
using Spectre.Console;

namespace FiRST.Cli.Reporting;

/// <summary>
/// Shows a long command's progress on stderr (stdout carries its results): Spectre.Console bars with step,
/// loss and ETA on an interactive terminal, else the plain lines the commands always printed, so a log, a
/// pipe, a test or <c>--json</c> sees nothing but those. Shared by <c>first</c> and <c>first-train</c>.
/// </summary>
/// <example>
/// <code>
/// var profile = ProgressReporter.For(error).Run(report => TaskCalibration.Run(..., report));
/// </code>
/// </example>
internal abstract class ProgressReporter
{
    /// <summary>
    /// Bars when <paramref name="error"/> is this process's own stderr and a terminal; plain lines on
    /// <paramref name="error"/> otherwise, or when <paramref name="plain"/> (a command's <c>--json</c>) asks for them.
    /// </summary>
    public static ProgressReporter For(TextWriter error, bool plain = false) =>
        !plain && IsTerminal(error)
            // Interactive by this check, not by Spectre's, which also wants stdout on the terminal: results
            // piped to a file while the bars show is the common case.
            ? new SpectreProgress(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error), Interactive = InteractionSupport.Yes }))
            : new PlainProgress(error);

    /// <summary>Runs <paramref name="work"/>, showing what it reports; returns what it returns.</summary>
    public abstract T Run<T>(Func<Action<PassProgress>, T> work);

    /// <summary>Runs <paramref name="work"/>, showing what it reports.</summary>
    public void Run(Action<Action<PassProgress>> work) => Run(report => { work(report); return 0; });

    // A writer the caller made (a test's, a file) is never a terminal, whatever the process's stderr is; and
    // TERM=dumb terminals cannot move the cursor the bars need.
    private static bool IsTerminal(TextWriter error) =>
        ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
}
