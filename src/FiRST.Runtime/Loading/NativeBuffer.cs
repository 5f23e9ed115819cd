using System.Runtime.InteropServices;

namespace FiRST.Runtime.Loading;

/// <summary>
/// A 64-byte aligned block of unmanaged memory, for weights that had to be converted (F16/BF16), reordered
/// (Hugging Face query/key rows) or quantized on load.
/// </summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    private byte* _data;

    private NativeBuffer(long bytes)
    {
        Bytes = bytes;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
    }

    /// <summary>Room for <paramref name="count"/> floats.</summary>
    public static NativeBuffer Floats(long count) => new(count * sizeof(float));

    /// <summary>Room for <paramref name="count"/> 16-bit values.</summary>
    public static NativeBuffer UShorts(long count) => new(count * sizeof(ushort));

    /// <summary>Room for <paramref name="count"/> signed bytes.</summary>
    public static NativeBuffer SBytes(long count) => new(count);

    /// <summary>Room for <paramref name="count"/> bytes.</summary>
    public static NativeBuffer Raw(long count) => new(count);

    public long Bytes { get; }

    /// <summary>The memory as floats.</summary>
    public float* Data => (float*)Pointer;

    /// <summary>The memory as 16-bit values (bfloat16 bits).</summary>
    public ushort* UShortData => (ushort*)Pointer;

    /// <summary>The memory as signed bytes.</summary>
    public sbyte* SByteData => (sbyte*)Pointer;

    /// <summary>The memory as bytes.</summary>
    public byte* ByteData => Pointer;

    private byte* Pointer => _data != null ? _data : throw new ObjectDisposedException(nameof(NativeBuffer));

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
