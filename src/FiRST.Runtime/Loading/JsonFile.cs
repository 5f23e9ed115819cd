using System.Text.Json;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Reading the project's JSON inputs (config.json, profiles) with one set of rules: a size bound before
/// reading, and every JSON failure, including invalid UTF-8 that System.Text.Json only notices when a string
/// is read, reported as a <see cref="ModelLoadException"/> naming the file.
/// </summary>
internal static class JsonFile
{
    /// <summary>Reads <paramref name="path"/> whole, refusing files over <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadBounded(string path, long maxBytes, string notFound)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ModelLoadException(path, "", notFound);
            if (info.Length > maxBytes) throw new ModelLoadException(path, "", $"file is {info.Length} bytes; more than the {maxBytes} such a file can have");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, "", $"cannot read the file ({e.Message})", e);
        }
    }

    /// <summary>
    /// Parses <paramref name="json"/> and hands its root to <paramref name="read"/>; errors name
    /// <paramref name="field"/> (the part of the file the JSON is, if not all of it).
    /// </summary>
    public static T Parse<T>(ReadOnlyMemory<byte> json, string source, Func<JsonElement, string, T> read, int maxDepth = 64, string field = "", bool allowDuplicateProperties = true)
    {
        // Editors may save a UTF-8 byte-order mark. It is not part of the JSON text, and JsonDocument.Parse
        // over bytes (unlike over a stream) rejects it; the source generator reads the same file through
        // Roslyn, which strips it, so without this a profile would build and then fail to load.
        if (json.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) json = json[3..];
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = maxDepth, AllowDuplicateProperties = allowDuplicateProperties });
        }
        catch (JsonException e)
        {
            throw new ModelLoadException(source, field, $"invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                return read(doc.RootElement, source);
            }
            catch (InvalidOperationException e)
            {
                throw new ModelLoadException(source, field, $"invalid JSON text: {e.Message}", e);
            }
        }
    }
}
