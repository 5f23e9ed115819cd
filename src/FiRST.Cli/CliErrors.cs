using System.CommandLine;
using FiRST.Runtime;

namespace FiRST.Cli;

/// <summary>Which exceptions are the user's input being wrong (one line, no stack trace) rather than a bug.</summary>
internal static class CliErrors
{
    /// <summary>
    /// Parses and runs <paramref name="root"/>: a usage error exits 2, a user error (bad input) one line on
    /// <paramref name="error"/> and exit 1, a cancelled command (<paramref name="cancellationToken"/>: Ctrl+C or
    /// SIGTERM) the line of <see cref="Stopped"/> and exit 130 as a shell reports SIGINT; anything else is a bug
    /// and keeps its stack trace.
    /// </summary>
    public static int Invoke(string tool, RootCommand root, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) error.WriteLine($"{tool}: {e.Message}");
            error.WriteLine($"Run '{tool} --help' for usage.");
            return 2;
        }
        try
        {
            // The caller owns the signals (Program.Main): System.CommandLine's own handler is off. The async
            // invocation (the one that takes a token) runs on the thread pool: blocking on it from a thread with
            // a synchronization context (a test's) would deadlock.
            var configuration = new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
            };
            return Task.Run(() => parsed.InvokeAsync(configuration, cancellationToken)).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            return Stopped(tool, error, e);
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"{tool}: error: {Message(e)}");
            return 1;
        }
    }

    /// <summary>The exit code of a command stopped by Ctrl+C or SIGTERM (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    /// <summary>
    /// The one ending of a cancelled command (except generate, whose statistics line says it): what it printed
    /// so far stays, one line <c>first: stop: Cancelled after 3 of 30 rounds</c> (how far, when the loop said)
    /// goes to <paramref name="error"/>, and the exit code is <see cref="Cancelled"/>.
    /// </summary>
    public static int Stopped(string tool, TextWriter error, OperationCanceledException e)
    {
        error.WriteLine(e is RunCancelledException r ? $"{tool}: stop: Cancelled after {r.Reached}" : $"{tool}: stop: Cancelled");
        return Cancelled;
    }

    /// <summary>
    /// Before a cancelled command's <see cref="Stopped"/> line: the output files it was asked for and did not write
    /// (a cancelled command writes none half-done), as <c>not written: a.json, b.svg</c>; nothing when none.
    /// </summary>
    public static void NotWritten(TextWriter error, params string?[] paths)
    {
        var named = paths.OfType<string>().ToArray();
        if (named.Length > 0) error.WriteLine($"not written: {string.Join(", ", named)}");
    }

    public static bool IsUserError(Exception e) =>
        e is FiRSTException or ArgumentException or KeyNotFoundException or IOException or UnauthorizedAccessException or OperationCanceledException;

    public static string Message(Exception e)
    {
        if (e is OperationCanceledException) return "cancelled";
        string message = e.Message;
        // ArgumentException appends " (Parameter 'x')" and ArgumentOutOfRangeException a second line with
        // the value: the user named an option, not a parameter, and errors are one line.
        if (e is ArgumentException { ParamName: { } name })
        {
            int cut = message.IndexOf($" (Parameter '{name}')", StringComparison.Ordinal);
            if (cut >= 0) message = message[..cut];
        }
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline >= 0 ? message[..newline] : message;
    }
}
