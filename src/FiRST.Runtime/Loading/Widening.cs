using FiRST.Runtime.Kernels;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Float32 from the 16-bit formats checkpoints store (safetensors and GGUF alike): one place, so the two readers
/// cannot round or order bytes differently. Little-endian hosts only, as every reader here.
/// </summary>
internal static unsafe class Widening
{
    /// <summary>Writes <paramref name="count"/> float32 values of IEEE half-precision <paramref name="source"/>.</summary>
    public static void F16(byte* source, float* destination, long count)
    {
        var halves = (Half*)source;
        for (long i = 0; i < count; i++) destination[i] = (float)halves[i];
    }

    /// <summary>Writes <paramref name="count"/> float32 values of bfloat16 <paramref name="source"/> (the top half of a float32).</summary>
    public static void BF16(byte* source, float* destination, long count)
    {
        // The vectorised widening takes spans: a tensor of more than 2^30 values goes in pieces.
        const long Piece = 1L << 30;
        for (long done = 0; done < count; done += Piece)
            BFloat16Kernels.Widen((ushort*)source + done, new Span<float>(destination + done, (int)Math.Min(Piece, count - done)));
    }
}
