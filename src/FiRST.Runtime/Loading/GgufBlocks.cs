using System.Buffers.Binary;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Turns GGUF tensor data into the runtime's formats: float32 (F16 and BF16 widened, Q8_0 and Q4_0
/// dequantized), or the runtime's own int8 (Q8_0) and 4-bit (Q4_0) with one float32 scale per group of 32.
/// </summary>
/// <remarks>
/// ggml's blocks of 32 (ggml-common.h): Q8_0 is an f16 scale <c>d</c> and 32 int8 values, value = q * d; Q4_0
/// is an f16 scale and 16 bytes whose low nibbles are elements 0-15 and high nibbles elements 16-31,
/// value = (nibble - 8) * d.
/// </remarks>
internal static unsafe class GgufBlocks
{
    public const int BlockSize = 32;

    /// <summary>Writes <paramref name="count"/> float32 values of a tensor stored as <paramref name="type"/>.</summary>
    public static void ToFloat(GgufTensorType type, byte* src, float* dst, long count)
    {
        switch (type)
        {
            case GgufTensorType.F32:
                Buffer.MemoryCopy(src, dst, count * 4, count * 4);
                break;
            case GgufTensorType.F16:
                Widening.F16(src, dst, count);
                break;
            case GgufTensorType.BF16:
                Widening.BF16(src, dst, count);
                break;
            case GgufTensorType.Q8_0:
                for (long b = 0; b < count / BlockSize; b++)
                {
                    byte* block = src + b * 34;
                    float d = (float)Half16(block);
                    for (int j = 0; j < BlockSize; j++) dst[b * BlockSize + j] = ((sbyte*)block)[2 + j] * d;
                }
                break;
            case GgufTensorType.Q4_0:
                for (long b = 0; b < count / BlockSize; b++)
                {
                    byte* block = src + b * 18;
                    float d = (float)Half16(block);
                    float* o = dst + b * BlockSize;
                    for (int j = 0; j < BlockSize / 2; j++)
                    {
                        o[j] = ((block[2 + j] & 0x0F) - 8) * d;
                        o[j + BlockSize / 2] = ((block[2 + j] >> 4) - 8) * d;
                    }
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    /// <summary>
    /// Splits Q8_0 blocks into the runtime's row-major int8 values and float32 group scales (group size 32):
    /// the same values and the same scales widened, so nothing is rounded again.
    /// </summary>
    public static void SplitQ8_0(byte* src, sbyte* values, float* scales, long count)
    {
        for (long b = 0; b < count / BlockSize; b++)
        {
            byte* block = src + b * 34;
            scales[b] = (float)Half16(block);
            Buffer.MemoryCopy(block + 2, values + b * BlockSize, BlockSize, BlockSize);
        }
    }

    /// <summary>
    /// Places a <c>[rows, cols]</c> Q4_0 tensor's blocks in <see cref="Q4Layout"/>'s order: the same nibbles and
    /// the same scales widened, so nothing is rounded again.
    /// </summary>
    public static void PlaceQ4_0(byte* src, int rows, int cols, byte* nibbles, float* scales)
    {
        int groups = cols / BlockSize;
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < groups; g++)
            {
                byte* block = src + ((long)r * groups + g) * 18;
                Q4Layout.PlaceGroup(block + 2, (float)Half16(block), rows, cols, r, g, nibbles, scales);
            }
    }

    private static Half Half16(byte* p) => BinaryPrimitives.ReadHalfLittleEndian(new ReadOnlySpan<byte>(p, 2));
}
