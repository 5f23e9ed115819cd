using FiRST.Runtime;

namespace FiRST.Cli;

/// <summary>Which exceptions are the user's input being wrong (one line, no stack trace) rather than a bug.</summary>
internal static class CliErrors
{
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
