namespace FiRST.Runtime.Loading;

/// <summary>
/// Typed reads of GGUF metadata: a key of the wrong type or range is a <see cref="ModelLoadException"/> naming
/// the file and the key. Numbers are accepted in any GGUF integer or float type, since writers differ.
/// </summary>
internal static class GgufMetadata
{
    public static bool Has(this GgufFile f, string key) => f.Metadata.ContainsKey(key);

    public static int Int(this GgufFile f, string key) =>
        f.OptionalInt(key) ?? throw new ModelLoadException(f.Path, key, "missing");

    public static int? OptionalInt(this GgufFile f, string key) =>
        !f.Metadata.TryGetValue(key, out var v) ? null
        : v is long l && l is >= int.MinValue and <= int.MaxValue ? (int)l
        : throw new ModelLoadException(f.Path, key, $"expected a 32-bit integer, got {GgufFile.Describe(v)}");

    public static double? OptionalFloat(this GgufFile f, string key) =>
        !f.Metadata.TryGetValue(key, out var v) ? null
        : v is double d && double.IsFinite(d) ? d
        : v is long l ? l
        : throw new ModelLoadException(f.Path, key, $"expected a finite number, got {GgufFile.Describe(v)}");

    public static bool? OptionalBool(this GgufFile f, string key) =>
        !f.Metadata.TryGetValue(key, out var v) ? null
        : v is bool b ? b
        : throw new ModelLoadException(f.Path, key, $"expected a bool, got {GgufFile.Describe(v)}");

    public static string? OptionalString(this GgufFile f, string key) =>
        !f.Metadata.TryGetValue(key, out var v) ? null
        : v as string ?? throw new ModelLoadException(f.Path, key, $"expected a string, got {GgufFile.Describe(v)}");

    /// <summary>An array of <typeparamref name="T"/> (<c>string</c>, <c>long</c> or <c>double</c>), or null when absent.</summary>
    public static T[]? OptionalArray<T>(this GgufFile f, string key)
    {
        if (!f.Metadata.TryGetValue(key, out var v)) return null;
        if (v is T[] a) return a;
        // An array of integers is still numbers to a reader that wants floats.
        if (typeof(T) == typeof(double) && v is long[] longs) return (T[])(object)longs.Select(x => (double)x).ToArray();
        string want = typeof(T) == typeof(string) ? "strings" : typeof(T) == typeof(long) ? "integers" : "numbers";
        throw new ModelLoadException(f.Path, key, $"expected an array of {want}, got {GgufFile.Describe(v)}");
    }
}
