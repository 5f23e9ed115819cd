using System.Buffers.Binary;
using System.Text;

namespace FiRST.Runtime.Loading;

/// <summary>ggml tensor types this runtime reads from a GGUF file (numbers as in ggml.h).</summary>
internal enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q8_0 = 8,
    BF16 = 30,
}

/// <summary>One tensor of a GGUF file: dimensions fastest-first (<c>Dims[0]</c> is the row length), its data range checked.</summary>
internal readonly record struct GgufTensor(string Name, long[] Dims, GgufTensorType Type, long Offset, long Bytes);

/// <summary>
/// One memory-mapped GGUF file (llama.cpp's format, versions 2 and 3): "GGUF", a version, the tensor and
/// metadata counts, metadata key/values, tensor infos, padding to <c>general.alignment</c>, then the data.
/// Every count and length is checked against the bytes left in the file before anything is allocated from
/// it, and every tensor's range against the data section, since llama.cpp's own parser had CVEs for exactly
/// these (huge array counts and string lengths, dimensions whose product overflows, offsets past the end,
/// overlapping tensors).
/// </summary>
internal sealed unsafe class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    internal const uint Magic = 0x46554747;

    /// <summary>ggml's default data alignment when <c>general.alignment</c> is absent.</summary>
    private const int DefaultAlignment = 32;

    /// <summary>Largest alignment accepted; real files use 32 (a larger one only wastes padding).</summary>
    private const int MaxAlignment = 1 << 16;

    /// <summary>Most elements a metadata array may hold; real vocabularies have a few hundred thousand.</summary>
    private const int MaxArrayLength = 1 << 24;

    /// <summary>GGML_MAX_DIMS.</summary>
    private const int MaxDims = 4;

    private readonly MappedFile _file;
    private readonly long _dataStart;

    private GgufFile(MappedFile file, int version, Dictionary<string, object> metadata, Dictionary<string, GgufTensor> tensors, long dataStart)
    {
        _file = file;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        _dataStart = dataStart;
    }

    public string Path => _file.Path;

    public int Version { get; }

    /// <summary>
    /// Metadata by key: integers as <see cref="long"/> (uint64 above its range as <see cref="ulong"/>), floats as
    /// <see cref="double"/>, bools, strings, and arrays as <c>long[]</c>, <c>double[]</c>, <c>bool[]</c> or <c>string[]</c>.
    /// </summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    public IReadOnlyDictionary<string, GgufTensor> Tensors { get; }

    /// <summary>True when <paramref name="path"/> is a readable file that starts with "GGUF".</summary>
    public static bool HasMagic(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            Span<byte> head = stackalloc byte[4];
            return stream.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == Magic;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Maps and parses <paramref name="path"/>; anything malformed is a <see cref="ModelLoadException"/> naming the field.</summary>
    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            var r = new Reader(file.Pointer, file.Length, path);
            if (file.Length < 24 || r.U32("magic") != Magic)
                throw new ModelLoadException(path, "magic", "not a GGUF file (expected \"GGUF\" and a 24-byte header)");
            uint version = r.U32("version");
            if (version is not (2 or 3))
                throw new ModelLoadException(path, "version", $"GGUF version {version} is not supported; expected 2 or 3");
            long tensorCount = r.Count("tensor_count", minBytesEach: 8 + 4 + 8 + 4 + 8);
            long kvCount = r.Count("metadata_kv_count", minBytesEach: 8 + 4 + 1);

            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (long i = 0; i < kvCount; i++)
            {
                string key = r.String($"metadata key {i}");
                var type = (ValueType)r.U32(key);
                object value = type == ValueType.Array ? r.Array(key) : r.Scalar(key, type);
                if (!metadata.TryAdd(key, value)) throw new ModelLoadException(path, key, "metadata key appears twice");
            }

            int alignment = DefaultAlignment;
            if (metadata.TryGetValue("general.alignment", out var a))
            {
                if (a is not long al || al <= 0 || al > MaxAlignment || (al & (al - 1)) != 0)
                    throw new ModelLoadException(path, "general.alignment", $"expected a power of two up to {MaxAlignment}, got {Describe(a)}");
                alignment = (int)al;
            }

            var infos = new List<(string Name, long[] Dims, uint Type, long Offset)>();
            for (long i = 0; i < tensorCount; i++)
            {
                string name = r.String($"tensor {i} name");
                uint nDims = r.U32(name);
                if (nDims is 0 or > MaxDims) throw new ModelLoadException(path, name, $"{nDims} dimensions; expected 1 to {MaxDims}");
                var dims = new long[nDims];
                for (int d = 0; d < nDims; d++)
                {
                    ulong n = r.U64(name);
                    if (n is 0 or > int.MaxValue) throw new ModelLoadException(path, name, $"dimension {d} is {n}; expected 1 to {int.MaxValue}");
                    dims[d] = (long)n;
                }
                uint type = r.U32(name);
                ulong offset = r.U64(name);
                if (offset > long.MaxValue) throw new ModelLoadException(path, name, $"data offset {offset} is past the end of the file");
                infos.Add((name, dims, type, (long)offset));
            }

            long dataStart = Align(r.Position, alignment);
            long dataLength = file.Length - Math.Min(dataStart, file.Length);
            var tensors = new Dictionary<string, GgufTensor>(StringComparer.Ordinal);
            foreach (var (name, dims, type, offset) in infos)
            {
                var t = Tensor(path, name, dims, type, offset, alignment, dataLength);
                if (!tensors.TryAdd(name, t)) throw new ModelLoadException(path, name, "tensor name appears twice");
            }
            CheckNoOverlap(path, tensors.Values);
            return new GgufFile(file, (int)version, metadata, tensors, dataStart);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>First byte of a tensor's data (its range was checked when the file was opened).</summary>
    public byte* DataPointer(in GgufTensor t) => _file.Pointer + _dataStart + t.Offset;

    public void Dispose() => _file.Dispose();

    /// <summary>Elements per block and bytes per block of a type this runtime reads.</summary>
    public static (int Elements, int Bytes) BlockOf(GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => (1, 4),
        GgufTensorType.F16 or GgufTensorType.BF16 => (1, 2),
        GgufTensorType.Q8_0 => (32, 34),
        GgufTensorType.Q4_0 => (32, 18),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static GgufTensor Tensor(string path, string name, long[] dims, uint type, long offset, int alignment, long dataLength)
    {
        if (!Enum.IsDefined((GgufTensorType)type))
            throw new ModelLoadException(path, name, $"tensor type {TypeName(type)} is not supported; expected F32, F16, BF16, Q8_0 or Q4_0");
        var t = (GgufTensorType)type;
        var (blockElements, blockBytes) = BlockOf(t);
        if (dims[0] % blockElements != 0)
            throw new ModelLoadException(path, name, $"row length {dims[0]} is not a multiple of the {t} block of {blockElements}");
        // Each dimension is at most int.MaxValue; the product is bounded by the data before it can overflow.
        long elements = 1;
        foreach (long d in dims)
        {
            if (elements > dataLength * 2 / d + 1)
                throw new ModelLoadException(path, name, $"shape [{string.Join(", ", dims)}] needs more bytes than the file's {dataLength} of data");
            elements *= d;
        }
        long bytes = elements / blockElements * blockBytes;
        if (offset % alignment != 0)
            throw new ModelLoadException(path, name, $"data offset {offset} is not a multiple of the alignment {alignment}");
        if (offset > dataLength || bytes > dataLength - offset)
            throw new ModelLoadException(path, name, $"data [{offset}, {offset + bytes}) lies outside the {dataLength} bytes of data");
        return new GgufTensor(name, dims, t, offset, bytes);
    }

    private static void CheckNoOverlap(string path, IEnumerable<GgufTensor> tensors)
    {
        GgufTensor? previous = null;
        foreach (var t in tensors.OrderBy(t => t.Offset))
        {
            if (previous is { } p && t.Offset < p.Offset + p.Bytes)
                throw new ModelLoadException(path, t.Name, $"data at offset {t.Offset} overlaps tensor {p.Name} [{p.Offset}, {p.Offset + p.Bytes})");
            previous = t;
        }
    }

    private static long Align(long position, int alignment) => (position + alignment - 1) / alignment * alignment;

    /// <summary>ggml's names for the types it defines, so a refusal says which one the file has.</summary>
    private static string TypeName(uint type)
    {
        string[] names =
        [
            "F32", "F16", "Q4_0", "Q4_1", "Q4_2 (removed)", "Q4_3 (removed)", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K",
            "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32",
            "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4 (removed)", "Q4_0_4_8 (removed)", "Q4_0_8_8 (removed)", "TQ1_0", "TQ2_0",
        ];
        return type < names.Length ? names[type] : $"{type} (unknown)";
    }

    /// <summary>A metadata value for an error message, clipped.</summary>
    internal static string Describe(object value)
    {
        string s = value switch
        {
            string str => $"\"{str}\"",
            Array arr => $"an array of {arr.Length}",
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        return s.Length <= 40 ? s : s[..40] + "…";
    }

    /// <summary>GGUF metadata value types (gguf.h).</summary>
    private enum ValueType : uint
    {
        UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
        String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
    }

    /// <summary>A bounds-checked little-endian cursor over the mapped file (which may exceed 2 GiB, so no spans over all of it).</summary>
    private sealed class Reader(byte* start, long length, string path)
    {
        public long Position { get; private set; }

        private byte* Take(long bytes, string field)
        {
            if (bytes > length - Position)
                throw new ModelLoadException(path, field, $"file is truncated: {bytes} bytes needed at offset {Position}, {length - Position} remain");
            byte* p = start + Position;
            Position += bytes;
            return p;
        }

        public byte U8(string field) => *Take(1, field);
        public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(Take(2, field), 2));
        public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Take(4, field), 4));
        public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(Take(8, field), 8));

        /// <summary>A count of items each at least <paramref name="minBytesEach"/> long, so it cannot exceed what the file holds.</summary>
        public long Count(string field, int minBytesEach)
        {
            ulong n = U64(field);
            if (n > (ulong)((length - Position) / minBytesEach))
                throw new ModelLoadException(path, field, $"{n} items of at least {minBytesEach} bytes do not fit the {length - Position} bytes left");
            return (long)n;
        }

        public string String(string field)
        {
            ulong n = U64(field);
            if (n > (ulong)(length - Position))
                throw new ModelLoadException(path, field, $"string length {n} runs past the end of the file ({length - Position} bytes left)");
            if (n > int.MaxValue) throw new ModelLoadException(path, field, $"string length {n} is too large");
            return Encoding.UTF8.GetString(Take((long)n, field), (int)n);
        }

        public object Scalar(string key, ValueType type) => type switch
        {
            ValueType.UInt8 => (long)U8(key),
            ValueType.Int8 => (long)(sbyte)U8(key),
            ValueType.UInt16 => (long)U16(key),
            ValueType.Int16 => (long)(short)U16(key),
            ValueType.UInt32 => (long)U32(key),
            ValueType.Int32 => (long)(int)U32(key),
            ValueType.UInt64 => U64(key) is var u && u <= long.MaxValue ? (long)u : u,
            ValueType.Int64 => (long)U64(key),
            ValueType.Float32 => (double)BitConverter.UInt32BitsToSingle(U32(key)),
            ValueType.Float64 => BitConverter.UInt64BitsToDouble(U64(key)),
            ValueType.Bool => U8(key) switch
            {
                0 => false,
                1 => true,
                var b => throw new ModelLoadException(path, key, $"bool value {b}; expected 0 or 1"),
            },
            ValueType.String => String(key),
            _ => throw new ModelLoadException(path, key, $"metadata value type {(uint)type} is not a GGUF type"),
        };

        /// <summary>An array of scalars or strings; arrays of arrays are refused, as llama.cpp refuses them.</summary>
        public object Array(string key)
        {
            var type = (ValueType)U32(key);
            int size = type switch
            {
                ValueType.UInt8 or ValueType.Int8 or ValueType.Bool => 1,
                ValueType.UInt16 or ValueType.Int16 => 2,
                ValueType.UInt32 or ValueType.Int32 or ValueType.Float32 => 4,
                ValueType.UInt64 or ValueType.Int64 or ValueType.Float64 or ValueType.String => 8, // a string is at least its length
                ValueType.Array => throw new ModelLoadException(path, key, "arrays of arrays are not supported"),
                _ => throw new ModelLoadException(path, key, $"array element type {(uint)type} is not a GGUF type"),
            };
            long count = Count(key, size);
            if (count > MaxArrayLength) throw new ModelLoadException(path, key, $"array of {count} elements; at most {MaxArrayLength} are accepted");
            int n = (int)count;
            switch (type)
            {
                case ValueType.String:
                    var strings = new string[n];
                    for (int i = 0; i < n; i++) strings[i] = String(key);
                    return strings;
                case ValueType.Bool:
                    var bools = new bool[n];
                    for (int i = 0; i < n; i++) bools[i] = (bool)Scalar(key, type);
                    return bools;
                case ValueType.Float32 or ValueType.Float64:
                    var doubles = new double[n];
                    for (int i = 0; i < n; i++) doubles[i] = (double)Scalar(key, type);
                    return doubles;
                default:
                    var longs = new long[n];
                    for (int i = 0; i < n; i++)
                        longs[i] = Scalar(key, type) is long l ? l : throw new ModelLoadException(path, key, $"element {i} is above the int64 range");
                    return longs;
            }
        }
    }
}
