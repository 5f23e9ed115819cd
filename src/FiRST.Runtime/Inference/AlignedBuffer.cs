namespace FiRST.Runtime.Inference;

/// <summary>
/// Float buffers that start on a 64-byte boundary. Vector loads from a plain array straddle cache lines
/// wherever the GC happened to place it, which made decode speed vary by a third from run to run; these
/// live on the pinned object heap, so the alignment found once holds for their lifetime.
/// </summary>
internal static class AlignedBuffer
{
    private const int Alignment = 64;

    public static unsafe ArraySegment<float> Floats(long count)
    {
        if (count > Array.MaxLength - Alignment) throw new FiRSTException($"a buffer of {count} floats is larger than one array can hold");
        var array = GC.AllocateArray<float>((int)count + Alignment / sizeof(float), pinned: true);
        fixed (float* p = array)
        {
            int offset = (int)((Alignment - (nuint)p % Alignment) % Alignment) / sizeof(float);
            return new ArraySegment<float>(array, offset, (int)count);
        }
    }

    /// <summary>
    /// The address of a buffer's first float. Valid for the buffer's lifetime: it lives on the pinned object
    /// heap, so it never moves.
    /// </summary>
    public static unsafe float* Address(ArraySegment<float> buffer) =>
        (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref buffer.Array![buffer.Offset]);
}
