using System.Runtime.InteropServices;

namespace FiRST.Runtime.Loading;

/// <summary>
/// A 64-byte aligned block of unmanaged floats, for weights that had to be converted (F16/BF16) or
/// reordered (Hugging Face query/key rows) on load.
/// </summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    private float* _data;

    public NativeBuffer(long count)
    {
        Count = count;
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(count, 1) * sizeof(float)), 64);
    }

    public long Count { get; }

    public float* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(NativeBuffer));

    public Span<float> AsSpan() => new(Data, checked((int)Count));

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
