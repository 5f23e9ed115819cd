using System.Buffers.Binary;
using System.Text.Json;

namespace FiRST.Runtime.Loading;

/// <summary>Element types a safetensors tensor may have in a model this runtime loads.</summary>
internal enum SafetensorsDType { F32, F16, BF16 }

/// <summary>Where one tensor lies in a safetensors file.</summary>
internal readonly record struct SafetensorsEntry(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End);

/// <summary>
/// One memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the data. Every range is checked against the
/// file before anything reads it.
/// </summary>
internal sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted (real headers of multi-gigabyte models are well under this).</summary>
    private const long MaxHeaderBytes = 100L << 20;

    private readonly MappedFile _file;
    private readonly Dictionary<string, SafetensorsEntry> _entries;
    private readonly long _dataStart;

    private SafetensorsFile(MappedFile file, Dictionary<string, SafetensorsEntry> entries, long dataStart)
    {
        _file = file;
        _entries = entries;
        _dataStart = dataStart;
    }

    public string Path => _file.Path;

    public IReadOnlyDictionary<string, SafetensorsEntry> Entries => _entries;

    public static SafetensorsFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            if (file.Length < 8) throw new ModelLoadException(path, "header", $"file is truncated: {file.Length} bytes, the header length alone needs 8");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(file.Pointer, 8));
            if (headerLength < 2 || headerLength > (ulong)Math.Min(MaxHeaderBytes, file.Length - 8))
                throw new ModelLoadException(path, "header", $"header length {headerLength} does not fit a file of {file.Length} bytes (nor the {MaxHeaderBytes}-byte limit)");
            long dataStart = 8 + (long)headerLength;
            var entries = ParseHeader(path, new ReadOnlySpan<byte>(file.Pointer + 8, (int)headerLength), file.Length - dataStart);
            return new SafetensorsFile(file, entries, dataStart);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static Dictionary<string, SafetensorsEntry> ParseHeader(string path, ReadOnlySpan<byte> json, long dataLength) =>
        JsonFile.Parse(json.ToArray(), path, (root, source) =>
        {
            if (root.ValueKind != JsonValueKind.Object) throw new ModelLoadException(source, "header", "expected a JSON object");
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (prop.Name == "__metadata__") continue;
                entries[prop.Name] = ParseEntry(source, prop.Name, prop.Value, dataLength);
            }
            return entries;
        }, maxDepth: 16, field: "header");

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, name, "expected an object with dtype, shape and data_offsets");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new ModelLoadException(path, name, "missing dtype");
        var dtype = dt.GetString() switch
        {
            "F32" => SafetensorsDType.F32,
            "F16" => SafetensorsDType.F16,
            "BF16" => SafetensorsDType.BF16,
            var other => throw new ModelLoadException(path, name, $"dtype '{other}' is not supported; expected F32, F16 or BF16"),
        };
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array || sh.GetArrayLength() is < 1 or > 4)
            throw new ModelLoadException(path, name, "expected a shape of 1 to 4 dimensions");
        var shape = new long[sh.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0 || v > int.MaxValue)
                throw new ModelLoadException(path, name, $"invalid shape entry {d.GetRawText()}");
            shape[i++] = v;
            count = v == 0 ? 0 : (count > long.MaxValue / v / 4 ? throw new ModelLoadException(path, name, "shape is too large") : count * v);
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new ModelLoadException(path, name, "expected data_offsets [begin, end]");
        long begin = off[0].ValueKind == JsonValueKind.Number && off[0].TryGetInt64(out long b) ? b : -1;
        long end = off[1].ValueKind == JsonValueKind.Number && off[1].TryGetInt64(out long en) ? en : -1;
        if (begin < 0 || end < begin || end > dataLength)
            throw new ModelLoadException(path, name, $"data_offsets [{off[0].GetRawText()}, {off[1].GetRawText()}] lie outside the {dataLength} bytes of data");
        long elementSize = dtype == SafetensorsDType.F32 ? 4 : 2;
        if (end - begin != count * elementSize)
            throw new ModelLoadException(path, name, $"shape [{string.Join(", ", shape)}] of {dtype} needs {count * elementSize} bytes, data_offsets give {end - begin}");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    /// <summary>Pointer to the first byte of a tensor's data (range already validated).</summary>
    public byte* DataPointer(in SafetensorsEntry entry) => _file.Pointer + _dataStart + entry.Begin;

    /// <summary>Drops the tensor's pages from the process once it has been copied elsewhere (see <see cref="ResidentPages"/>).</summary>
    public void Release(in SafetensorsEntry entry) => ResidentPages.Release(DataPointer(entry), entry.End - entry.Begin);

    public void Dispose() => _file.Dispose();
}
