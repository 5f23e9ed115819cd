using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Xunit;

namespace FiRST.Cli.Tests.Support;

/// <summary>Checks that a file is a whole PNG picture with something drawn in it, and reads its size.</summary>
internal static class PngFile
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// The picture's width and height (from its IHDR chunk), after asserting the signature, the closing IEND
    /// chunk and pixel data of more than a few distinct bytes (a blank picture compresses to almost one value).
    /// </summary>
    public static (int Width, int Height) Check(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        Assert.True(b.Length > 8 + 25 + 12 && b.AsSpan(0, 8).SequenceEqual(Signature), $"{path} does not start with the PNG signature");
        Assert.Equal("IHDR", Encoding.ASCII.GetString(b, 12, 4));
        Assert.Equal("IEND", Encoding.ASCII.GetString(b, b.Length - 8, 4));
        int width = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(16)), height = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(20));

        var compressed = new MemoryStream();
        for (int at = 8; at < b.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(at));
            if (Encoding.ASCII.GetString(b, at + 4, 4) == "IDAT") compressed.Write(b, at + 8, length);
            at += 12 + length;
        }
        compressed.Position = 0;
        var pixels = new MemoryStream();
        using (var inflate = new ZLibStream(compressed, CompressionMode.Decompress)) inflate.CopyTo(pixels);
        Assert.True(pixels.Length >= (long)width * height, $"{path}: {pixels.Length} bytes of pixel data for {width}x{height}");
        Assert.True(pixels.ToArray().Distinct().Count() > 16, $"{path} looks blank");
        return (width, height);
    }
}
