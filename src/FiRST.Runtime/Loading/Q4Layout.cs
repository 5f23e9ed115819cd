using System.Runtime.Intrinsics;

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
    /// Quantizes one row of <paramref name="cols"/> floats to Q4_0 values and stores it at its place in a matrix
    /// of <paramref name="rows"/> rows. Per group, ggml's <c>quantize_row_q4_0_ref</c> choice first (<c>d = (the
    /// value of largest magnitude) / -8</c>, nibble <c>min(15, (int)(x / d + 8.5))</c>), then 21 other scales
    /// around it (<c>-(8 + k/10) / max</c>, k = -10..10), each with its least-squares <c>d</c>, keeping the one with
    /// the least squared error (ggml's <c>make_qx_quants</c> search, unweighted). The result is still Q4_0: on
    /// the 15M and 110M shapes it lowered the logits' RMS error by 8% and raised same-context greedy agreement
    /// with float32 from 63% and 69% to 76% and 80%. ggml's own choice wins ties, so Q4_0 values quantize back
    /// to themselves.
    /// </summary>
    public static void QuantizeRow(float* x, int rows, int cols, int row, byte* nibbles, float* scales)
    {
        Span<int> q = stackalloc int[GroupSize];
        Span<int> best = stackalloc int[GroupSize];
        for (int g = 0; g < cols / GroupSize; g++)
        {
            float* src = x + g * GroupSize;
            float amax = 0, max = 0;
            for (int j = 0; j < GroupSize; j++)
                if (Math.Abs(src[j]) > amax) { amax = Math.Abs(src[j]); max = src[j]; }
            float d = max / -8, id = d != 0 ? 1 / d : 0;
            for (int j = 0; j < GroupSize; j++) best[j] = Math.Min(15, (int)(sbyte)(src[j] * id + 8.5f));
            if (max != 0)
            {
                if (Vector512.IsHardwareAccelerated) d = Search512(src, max, d, best);
                else d = SearchScalar(src, max, d, best, q);
            }
            var (at, scale) = Offsets(rows, cols, row, g);
            scales[scale] = d;
            for (int j = 0; j < GroupBytes; j++) nibbles[at + j] = (byte)(best[j] | (best[j + GroupBytes] << 4));
        }
    }

    /// <summary>
    /// The scale search of <see cref="QuantizeRow"/> for one group: <paramref name="best"/> holds ggml's nibbles
    /// for scale <paramref name="d"/> on entry and the best nibbles on return; returns their scale.
    /// </summary>
    private static float SearchScalar(float* src, float max, float d, Span<int> best, Span<int> q)
    {
        double bestError = Error(src, best, d);
        for (int k = -11; k <= 10; k++)
        {
            // k = -11 stands for ggml's own nibbles with their least-squares scale.
            if (k == -11) best.CopyTo(q);
            else
            {
                float iscale = -(8f + 0.1f * k) / max;
                for (int j = 0; j < GroupSize; j++) q[j] = Math.Clamp((int)MathF.Round(src[j] * iscale), -8, 7) + 8;
            }
            float dk = LeastSquaresScale(src, q);
            double error = Error(src, q, dk);
            if (error < bestError) { bestError = error; d = dk; q.CopyTo(best); }
        }
        return d;
    }

    /// <summary>
    /// <see cref="SearchScalar"/> on two 512-bit vectors of values <c>n - 8</c> as floats: the same candidates, the
    /// sums in float32 (so a near-tie may go the other way; exact Q4_0 values still come back unchanged, at error 0).
    /// </summary>
    private static float Search512(float* src, float max, float d, Span<int> best)
    {
        var x0 = Vector512.Load(src);
        var x1 = Vector512.Load(src + GroupSize / 2);
        var eight = Vector512.Create(8f);
        var v0 = Vector512.ConvertToSingle(Vector512.Create(best[..16])) - eight;
        var v1 = Vector512.ConvertToSingle(Vector512.Create(best[16..])) - eight;
        var bv0 = v0;
        var bv1 = v1;
        float bestError = Error(x0, x1, v0, v1, d);
        var low = Vector512.Create(-8f);
        var high = Vector512.Create(7f);
        for (int k = -11; k <= 10; k++)
        {
            // k = -11 stands for ggml's own nibbles with their least-squares scale.
            if (k > -11)
            {
                var iscale = Vector512.Create(-(8f + 0.1f * k) / max);
                v0 = Vector512.Clamp(Vector512.Round(x0 * iscale), low, high);
                v1 = Vector512.Clamp(Vector512.Round(x1 * iscale), low, high);
            }
            float qq = Vector512.Sum(v0 * v0 + v1 * v1);
            float dk = qq > 0 ? Vector512.Sum(x0 * v0 + x1 * v1) / qq : 0;
            float error = Error(x0, x1, v0, v1, dk);
            if (error < bestError) { bestError = error; d = dk; bv0 = v0; bv1 = v1; }
        }
        Vector512.ConvertToInt32(bv0 + eight).CopyTo(best);
        Vector512.ConvertToInt32(bv1 + eight).CopyTo(best[16..]);
        return d;
    }

    private static float Error(Vector512<float> x0, Vector512<float> x1, Vector512<float> v0, Vector512<float> v1, float d)
    {
        var dv = Vector512.Create(d);
        var e0 = x0 - v0 * dv;
        var e1 = x1 - v1 * dv;
        return Vector512.Sum(e0 * e0 + e1 * e1);
    }

    /// <summary>The scale that minimises the squared error of nibbles <paramref name="n"/> (values n - 8).</summary>
    private static float LeastSquaresScale(float* x, Span<int> n)
    {
        double xq = 0, qq = 0;
        for (int j = 0; j < GroupSize; j++) { int v = n[j] - 8; xq += x[j] * (double)v; qq += v * v; }
        return qq > 0 ? (float)(xq / qq) : 0;
    }

    /// <summary>Squared error of a group stored as nibbles <paramref name="n"/> with scale <paramref name="d"/>, as the kernels will read it.</summary>
    private static double Error(float* x, Span<int> n, float d)
    {
        double e = 0;
        for (int j = 0; j < GroupSize; j++)
        {
            double diff = x[j] - (n[j] - 8) * d;
            e += diff * diff;
        }
        return e;
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
