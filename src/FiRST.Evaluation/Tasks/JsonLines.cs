using System.Text.Json;
using FiRST.Runtime;

namespace FiRST.Evaluation.Tasks;

/// <summary>The JSON Lines files of this project (task files, prompt lists): bounded, one object per line.</summary>
internal static class JsonLines
{
    /// <summary>
    /// Hands each non-blank line of <paramref name="path"/>, parsed, to <paramref name="read"/> with its field
    /// name ("line 3"). A missing or too large file, or a line that is not JSON, fails naming the file and line.
    /// </summary>
    public static void Read(string path, long maxBytes, string what, Action<JsonElement, string> read)
    {
        FileInfo info = new(path);
        if (!info.Exists) throw new ModelLoadException(path, "", $"{what} not found");
        if (info.Length > maxBytes) throw new ModelLoadException(path, "", $"{info.Length} bytes is more than the {maxBytes} a {what} may have");
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string field = $"line {lineNumber}";
            try
            {
                using var doc = JsonDocument.Parse(line);
                read(doc.RootElement, field);
            }
            catch (JsonException e)
            {
                throw new ModelLoadException(path, field, $"not valid JSON: {e.Message}", e);
            }
        }
    }
}
