using System.Buffers.Binary;
using System.Text;

namespace FiRST.Runtime.Loading;

/// <summary>
/// The opening checks every FiRST binary file (routers, adapters) shares: long enough for its header, the
/// 8-byte magic, then a supported int32 version. Each failure is a <see cref="ModelLoadException"/> naming the
/// file and the field.
/// </summary>
internal static class BinaryHeader
{
    /// <summary>Throws unless <paramref name="bytes"/> start with <paramref name="magic"/> and <paramref name="version"/>.</summary>
    public static void Check(ReadOnlySpan<byte> bytes, string source, int headerBytes, ReadOnlySpan<byte> magic, int version, string kind)
    {
        if (bytes.Length < headerBytes) throw new ModelLoadException(source, "header", $"{bytes.Length} bytes is shorter than the {headerBytes}-byte header");
        if (!bytes[..magic.Length].SequenceEqual(magic))
            throw new ModelLoadException(source, "magic", $"not a FiRST {kind} file (expected the bytes '{Encoding.ASCII.GetString(magic)}')");
        int found = BinaryPrimitives.ReadInt32LittleEndian(bytes[magic.Length..]);
        if (found != version) throw new ModelLoadException(source, "version", $"version {found} is not supported (expected {version})");
    }
}
