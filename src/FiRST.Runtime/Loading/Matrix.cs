namespace FiRST.Runtime.Loading;

/// <summary>
/// A read-only, row-major matrix <c>[Rows, Cols]</c> in unmanaged memory (a memory-mapped file or a buffer
/// owned by <see cref="ModelWeights"/>): float32; bfloat16 as a checkpoint stores it (the top half of a float32,
/// so the kernels widen it in registers and decode reads half the bytes); or int8 with one float32 scale per
/// group of <see cref="GroupSize"/> consecutive elements (symmetric "Q8_0": value = q * scale); or 4-bit
/// (<see cref="Q4Layout"/>: groups of 32, value = (nibble - 8) * scale, as llama.cpp's Q4_0). A vector is a
/// matrix with one row. Groups never straddle rows.
/// </summary>
internal readonly unsafe struct Matrix
{
    /// <summary>Wraps float32 memory that the caller keeps alive.</summary>
    public Matrix(float* data, int rows, int cols)
    {
        Data = data;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Wraps bfloat16 memory (2-byte aligned) that the caller keeps alive.</summary>
    public Matrix(ushort* bf16, int rows, int cols)
    {
        BFloat16 = bf16;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>
    /// Wraps int8 values and their group scales, memory that the caller keeps alive, in row-major or
    /// <see cref="Q8Layout"/>'s interleaved order.
    /// </summary>
    public Matrix(sbyte* quantized, float* scales, int rows, int cols, int groupSize, bool interleaved = false)
    {
        if (groupSize <= 0 || cols % groupSize != 0)
            throw new ArgumentException($"group size {groupSize} does not divide the row length {cols}");
        if (interleaved && !Q8Layout.CanInterleave(cols, groupSize))
            throw new ArgumentException($"rows of {cols} in groups of {groupSize} cannot be interleaved");
        IsInterleaved = interleaved;
        Quantized = quantized;
        Scales = scales;
        Rows = rows;
        Cols = cols;
        GroupSize = groupSize;
    }

    /// <summary>
    /// Wraps 4-bit weights in <see cref="Q4Layout"/>'s order and their group scales (groups of 32), memory that
    /// the caller keeps alive.
    /// </summary>
    public static Matrix FourBit(byte* nibbles, float* scales, int rows, int cols) => new(nibbles, scales, rows, cols);

    private Matrix(byte* nibbles, float* scales, int rows, int cols)
    {
        if (!Q4Layout.CanHold(cols)) throw new ArgumentException($"rows of {cols} are not whole groups of {Q4Layout.GroupSize}");
        Nibbles = nibbles;
        Scales = scales;
        Rows = rows;
        Cols = cols;
        GroupSize = Q4Layout.GroupSize;
    }

    /// <summary>First element of a float32 matrix; null otherwise.</summary>
    public float* Data { get; }

    /// <summary>First element of a bfloat16 matrix (raw bits); null otherwise.</summary>
    public ushort* BFloat16 { get; }

    /// <summary>True for bfloat16 weights.</summary>
    public bool IsBFloat16 => BFloat16 != null;

    /// <summary>First int8 value of an int8 matrix; null otherwise.</summary>
    public sbyte* Quantized { get; }

    /// <summary>First byte (two 4-bit values) of a 4-bit matrix; null otherwise.</summary>
    public byte* Nibbles { get; }

    /// <summary>Group scales of a quantized matrix, <c>[Rows * Cols / GroupSize]</c>; null when float32.</summary>
    public float* Scales { get; }

    /// <summary>Elements per scale of a quantized matrix; 0 when float32.</summary>
    public int GroupSize { get; }

    /// <summary>True when int8 values are in <see cref="Q8Layout"/>'s interleaved order.</summary>
    public bool IsInterleaved { get; }

    /// <summary>True for int8 or 4-bit weights with group scales.</summary>
    public bool IsQuantized => Quantized != null || Nibbles != null;

    /// <summary>True for int8 weights.</summary>
    public bool IsInt8 => Quantized != null;

    /// <summary>True for 4-bit weights.</summary>
    public bool IsFourBit => Nibbles != null;

    /// <summary>Number of rows (output features).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (input features).</summary>
    public int Cols { get; }

    /// <summary>Number of elements.</summary>
    public long Length => (long)Rows * Cols;

    /// <summary>Bytes the matrix occupies (values plus scales when quantized).</summary>
    public long Bytes => IsFourBit ? Length / 2 + Length / GroupSize * sizeof(float)
        : IsInt8 ? Length + Length / GroupSize * sizeof(float) : IsBFloat16 ? Length * sizeof(ushort) : Length * sizeof(float);

    /// <summary>The element type as a short name: f32, bf16, q8 or q4.</summary>
    public string FormatName => IsFourBit ? "q4" : IsInt8 ? "q8" : IsBFloat16 ? "bf16" : "f32";

    /// <summary>True when <paramref name="other"/> views the same memory (a classifier tied to the embedding).</summary>
    public bool SameMemory(Matrix other) => Data == other.Data && BFloat16 == other.BFloat16 && Quantized == other.Quantized && Nibbles == other.Nibbles;

    /// <summary>One row of a float32 matrix as a span.</summary>
    public ReadOnlySpan<float> Row(int row)
    {
        if (Data == null) throw new InvalidOperationException("Row() reads float32 matrices; use CopyRow for int8 or bfloat16 ones");
        return new(Data + (long)row * Cols, Cols);
    }

    /// <summary>Writes row <paramref name="row"/> as float32 into <paramref name="destination"/> (widening or dequantizing if needed).</summary>
    public void CopyRow(int row, Span<float> destination)
    {
        if (IsBFloat16)
        {
            Kernels.BFloat16Kernels.Widen(BFloat16 + (long)row * Cols, destination[..Cols]);
            return;
        }
        if (IsFourBit)
        {
            Q4Layout.DequantizeRow(this, row, destination);
            return;
        }
        if (!IsQuantized)
        {
            Row(row).CopyTo(destination);
            return;
        }
        if (IsInterleaved)
        {
            for (int c = 0; c < Cols; c += Q8Layout.ChunkCols)
            {
                var (at, scale) = Q8Layout.Offsets(true, Rows, Cols, GroupSize, row, c);
                float sc = Scales[scale];
                for (int j = 0; j < Q8Layout.ChunkCols; j++) destination[c + j] = Quantized[at + j] * sc;
            }
            return;
        }
        sbyte* q = Quantized + (long)row * Cols;
        float* s = Scales + (long)row * Cols / GroupSize;
        for (int i = 0; i < Cols; i++) destination[i] = q[i] * s[i / GroupSize];
    }
}
