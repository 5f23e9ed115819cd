using System.Runtime.InteropServices;

namespace FiRST.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM for a tool's <c>Main</c> (<c>first</c>'s and <c>first-train</c>'s): the first
/// cancels the token the running command watches (it stops within a token or step and exits with
/// <see cref="CliErrors.Cancelled"/>); a second one ends the process, for a command stuck where it does not look.
/// </summary>
/// <remarks>
/// A signal the process inherited ignored stays ignored (.NET keeps SIG_IGN): a job started with <c>&amp;</c> by a
/// non-interactive shell ignores SIGINT, so there neither Ctrl+C nor <c>kill -INT</c> reaches it (measured on
/// <c>first bench</c>; <c>env --default-signal=INT</c> restores it). That, not this handler, is why a second
/// SIGINT once seemed not to end <c>bench</c>: from a terminal it does.
/// </remarks>
internal static class CliSignals
{
    /// <summary>Runs <paramref name="run"/> with a token that the first SIGINT or SIGTERM cancels.</summary>
    public static int Run(Func<CancellationToken, int> run)
    {
        using var cancel = new CancellationTokenSource();
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            // Keep the process the first time (the command winds down); let the second one end it.
            e.Cancel = !cancel.IsCancellationRequested;
            cancel.Cancel();
        }
        Console.CancelKeyPress += OnCancel;
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = !cancel.IsCancellationRequested;
            cancel.Cancel();
        });
        try
        {
            return run(cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }
}
