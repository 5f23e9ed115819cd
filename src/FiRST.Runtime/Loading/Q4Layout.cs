namespace FiRST.Runtime.Loading;

/// <summary>
/// 4-bit weights: llama.cpp's Q4_0 values (groups of 32, one scale <c>d</c> each, value = (nibble - 8) * d,
/// byte j of a group holding element j in its low nibble and element j + 16 in its high one) with float32
/// scales, in the order the kernel reads. Rows go in blocks of four: for each group, the four rows' 16 bytes
/// one after another (64 bytes, one cache line, one sequential stream per block as <see cref="Q8Layout"/>'s),
/// and the four rows' scales of each group side by side. Rows past the last full block are row-major.
/// 4.5 bits per weight in GGUF (f16 scales), 5 here: the float32 scale spares the kernel a conversion per group.
/// </summary>
internal static unsafe class Q4Layout
{
    /// <summary>Values per scale.</summary>
    public const int GroupSize = 32;

    /// <summary>Bytes of one row's group.</summary>
    public const int GroupBytes = GroupSize / 2;

    /// <summary>Rows per block.</summary>
    public const int BlockRows = 4;

    /// <summary>True when rows of <paramref name="cols"/> values are whole groups.</summary>
    public static bool CanHold(int cols) => cols > 0 && cols % GroupSize == 0;

    /// <summary>Byte offset of a row's group and the index of its scale.</summary>
    public static (long Bytes, long Scale) Offsets(int rows, int cols, int row, int group)
    {
        int groups = cols / GroupSize;
        if (row >= rows / BlockRows * BlockRows)
            return ((long)row * (cols / 2) + group * GroupBytes, (long)row * groups + group);
        long block = row / BlockRows;
        int r = row % BlockRows;
        return (block * BlockRows * (cols / 2) + (long)group * GroupBytes * BlockRows + r * GroupBytes,
                block * BlockRows * groups + (long)group * BlockRows + r);
    }

    /// <summary>
    /// Quantizes one row of <paramref name="cols"/> floats as ggml's <c>quantize_row_q4_0_ref</c> does: per
    /// group, <c>d = (the value of largest magnitude) / -8</c> and nibble <c>min(15, (int)(x / d + 8.5))</c>; stores
    /// it at its place in a matrix of <paramref name="rows"/> rows.
    /// </summary>
    public static void QuantizeRow(float* x, int rows, int cols, int row, byte* nibbles, float* scales)
    {
        for (int g = 0; g < cols / GroupSize; g++)
        {
            float* src = x + g * GroupSize;
            float amax = 0, max = 0;
            for (int j = 0; j < GroupSize; j++)
                if (Math.Abs(src[j]) > amax) { amax = Math.Abs(src[j]); max = src[j]; }
            float d = max / -8, id = d != 0 ? 1 / d : 0;
            var (at, scale) = Offsets(rows, cols, row, g);
            scales[scale] = d;
            for (int j = 0; j < GroupBytes; j++)
            {
                int lo = Math.Min(15, (int)(sbyte)(src[j] * id + 8.5f));
                int hi = Math.Min(15, (int)(sbyte)(src[j + GroupBytes] * id + 8.5f));
                nibbles[at + j] = (byte)(lo | (hi << 4));
            }
        }
    }

    /// <summary>Stores one group (16 bytes in ggml's nibble order) and its scale at their place.</summary>
    public static void PlaceGroup(byte* bytes, float scale, int rows, int cols, int row, int group, byte* nibbles, float* scales)
    {
        var (at, s) = Offsets(rows, cols, row, group);
        Buffer.MemoryCopy(bytes, nibbles + at, GroupBytes, GroupBytes);
        scales[s] = scale;
    }

    /// <summary>Writes row <paramref name="row"/> of a 4-bit matrix as float32.</summary>
    public static void DequantizeRow(Matrix m, int row, Span<float> destination)
    {
        for (int g = 0; g < m.Cols / GroupSize; g++)
        {
            var (at, s) = Offsets(m.Rows, m.Cols, row, g);
            float d = m.Scales[s];
            byte* p = m.Nibbles + at;
            for (int j = 0; j < GroupBytes; j++)
            {
                destination[g * GroupSize + j] = ((p[j] & 0x0F) - 8) * d;
                destination[g * GroupSize + j + GroupBytes] = ((p[j] >> 4) - 8) * d;
            }
        }
    }
}
