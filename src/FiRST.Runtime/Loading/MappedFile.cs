using System.IO.MemoryMappedFiles;

namespace FiRST.Runtime.Loading;

/// <summary>A whole file mapped read-only into memory; weights are read in place, never copied.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private MappedFile(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, long length)
    {
        Path = path;
        _file = file;
        _view = view;
        Length = length;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + view.PointerOffset;
    }

    /// <summary>The mapped file.</summary>
    public string Path { get; }

    /// <summary>File length in bytes.</summary>
    public long Length { get; }

    /// <summary>First byte of the file.</summary>
    public byte* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(Path);

    /// <summary>Maps <paramref name="path"/>; a missing, unreadable or empty file is a <see cref="ModelLoadException"/>.</summary>
    public static MappedFile Open(string path)
    {
        long length;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ModelLoadException(path, "", "file not found");
            length = info.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelLoadException(path, "", $"cannot read the file ({e.Message})", e);
        }
        if (length == 0) throw new ModelLoadException(path, "", "the file is empty");

        MemoryMappedFile? file = null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(path, file, view, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            throw new ModelLoadException(path, "", $"cannot map the file ({e.Message})", e);
        }
    }

    /// <summary>Reads a little-endian int32 at <paramref name="offset"/> (bounds checked by the caller).</summary>
    public int ReadInt32(long offset) => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(Pointer + offset, 4));

    public void Dispose()
    {
        if (_pointer == null) return;
        _pointer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
