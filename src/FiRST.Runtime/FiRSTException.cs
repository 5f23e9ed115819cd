namespace FiRST.Runtime;

/// <summary>Base type of every error the FiRST runtime reports on purpose.</summary>
public class FiRSTException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public FiRSTException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public FiRSTException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>
/// A model, tokenizer or configuration file that cannot be used: missing, truncated, corrupt or
/// inconsistent. The message always names the file, the field and what was expected, on one line.
/// </summary>
public sealed class ModelLoadException : FiRSTException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    /// <param name="path">The file that was being read.</param>
    /// <param name="field">The header field, tensor or entry that is wrong (may be empty).</param>
    /// <param name="problem">What is wrong and what was expected.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public ModelLoadException(string path, string field, string problem, Exception? inner = null)
        : base(Format(path, field, problem), inner)
    {
        FilePath = path;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file that was being read.</summary>
    public string FilePath { get; }

    /// <summary>The header field, tensor or entry that is wrong (empty when the file as a whole is).</summary>
    public string Field { get; }

    /// <summary>What is wrong and what was expected.</summary>
    public string Problem { get; }

    // A problem can quote the file (a JSON parser's excerpt, a tensor name); its line breaks are written as
    // "\n" so the message stays one line, as logs and the CLI show it.
    private static string Format(string path, string field, string problem) =>
        (string.IsNullOrEmpty(field) ? $"{path}: {problem}" : $"{path}: {field}: {problem}").ReplaceLineEndings("\\n");
}
