using FiRST.Runtime;

namespace FiRST.Cli;

/// <summary>Which exceptions are the user's input being wrong (one line, no stack trace) rather than a bug.</summary>
internal static class CliErrors
{
    public static bool IsUserError(Exception e) =>
        e is FiRSTException or ArgumentException or IOException or UnauthorizedAccessException or OperationCanceledException;

    public static string Message(Exception e) => e switch
    {
        OperationCanceledException => "cancelled",
        _ => e.Message,
    };
}
