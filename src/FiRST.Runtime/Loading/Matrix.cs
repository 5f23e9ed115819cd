namespace FiRST.Runtime.Loading;

/// <summary>
/// A read-only, row-major float32 matrix <c>[Rows, Cols]</c> living in unmanaged memory (a memory-mapped
/// file or a buffer owned by <see cref="ModelWeights"/>). A vector is a matrix with one row.
/// </summary>
public readonly unsafe struct Matrix
{
    /// <summary>Wraps memory that the caller keeps alive.</summary>
    public Matrix(float* data, int rows, int cols)
    {
        Data = data;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>First element.</summary>
    public float* Data { get; }

    /// <summary>Number of rows (output features).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (input features).</summary>
    public int Cols { get; }

    /// <summary>Number of elements.</summary>
    public long Length => (long)Rows * Cols;

    /// <summary>One row as a span.</summary>
    public ReadOnlySpan<float> Row(int row) => new(Data + (long)row * Cols, Cols);

    /// <summary>All elements as a span (only for matrices under 2^31 elements).</summary>
    public ReadOnlySpan<float> AsSpan() => new(Data, checked((int)Length));
}
