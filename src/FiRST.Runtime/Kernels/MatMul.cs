using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Matrix product for a batch of tokens: <c>C[t, r] = dot(W[r, :], X[t, :])</c> for <c>T</c> token rows of
/// <c>X [T, K]</c> and every row of <c>W [R, K]</c>. Prefill uses it so each weight is read once per batch
/// instead of once per token: decode is bound by memory, this by arithmetic. Tiles of four weight rows by
/// four tokens keep sixteen accumulators in registers; int8 and bfloat16 weights are widened a tile at a time into a
/// per-thread scratch row block. Split by weight rows over the <see cref="WorkerPool"/>.
/// </summary>
internal sealed unsafe class MatMul : ParallelJob, IDisposable
{
    private const int TileRows = 4;
    private const int TileTokens = 4;

    private readonly WorkerPool _pool;
    private readonly int _maxCols;
    private readonly float*[] _scratch;
    private float* _x, _c;
    private int _tokens, _ldc;
    private Matrix _w;

    /// <summary>Creates the kernel for rows of at most <paramref name="maxCols"/> inputs.</summary>
    public MatMul(WorkerPool pool, int maxCols)
    {
        _pool = pool;
        _maxCols = maxCols;
        _scratch = new float*[pool.Threads];
        for (int i = 0; i < _scratch.Length; i++)
            _scratch[i] = (float*)NativeMemory.AlignedAlloc((nuint)(TileRows * maxCols * sizeof(float)), 64);
    }

    /// <summary>
    /// <paramref name="output"/><c>[t * ldc + r]</c> = dot(<paramref name="w"/> row r, <paramref name="x"/> row t) for
    /// <paramref name="tokens"/> rows of <paramref name="x"/> (each <c>w.Cols</c> long).
    /// </summary>
    public void Run(Span<float> output, int ldc, ReadOnlySpan<float> x, int tokens, Matrix w)
    {
        if (w.Cols > _maxCols) throw new ArgumentException($"rows of {w.Cols} exceed the {_maxCols} this kernel was sized for");
        if (x.Length < (long)tokens * w.Cols || output.Length < (long)(tokens - 1) * ldc + w.Rows || ldc < w.Rows)
            throw new ArgumentException($"[{tokens}, {w.Cols}] x [{w.Rows}, {w.Cols}]^T does not fit the buffers");
        fixed (float* xp = x)
        fixed (float* cp = output)
        {
            _x = xp; _c = cp; _tokens = tokens; _ldc = ldc; _w = w;
            _pool.Run(this, w.Rows, grain: TileRows);
            _x = null; _c = null;
        }
    }

    /// <inheritdoc />
    public override void Execute(int start, int end)
    {
        float* scratch = _scratch[CurrentThread];
        int k = _w.Cols;
        for (int r = start; r < end; r += TileRows)
        {
            int rows = Math.Min(TileRows, end - r);
            float* w = RowBlock(r, rows, scratch);
            int t = 0;
            if (rows == TileRows && Vector512.IsHardwareAccelerated)
                for (; t + TileTokens <= _tokens; t += TileTokens) Tile512(w, k, _x + (long)t * k, _c + (long)t * _ldc + r, _ldc);
            for (; t < _tokens; t++)
                DotKernels.Rows(w, k, _x + (long)t * k, _c + (long)t * _ldc + r, 0, rows);
        }
    }

    /// <summary>The float32 rows <c>[r, r + rows)</c>: in place, or widened from int8 or bfloat16 into <paramref name="scratch"/>.</summary>
    private float* RowBlock(int r, int rows, float* scratch)
    {
        if (_w.Data != null) return _w.Data + (long)r * _w.Cols;
        for (int i = 0; i < rows; i++) _w.CopyRow(r + i, new Span<float>(scratch + (long)i * _w.Cols, _w.Cols));
        return scratch;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile512(float* w, int k, float* x, float* c, int ldc)
    {
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        float* x0 = x, x1 = x + k, x2 = x + 2 * k, x3 = x + 3 * k;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var a0 = Vector512.Load(w0 + i); var a1 = Vector512.Load(w1 + i);
            var a2 = Vector512.Load(w2 + i); var a3 = Vector512.Load(w3 + i);
            var b = Vector512.Load(x0 + i);
            c00 = Vector512.FusedMultiplyAdd(a0, b, c00); c10 = Vector512.FusedMultiplyAdd(a1, b, c10);
            c20 = Vector512.FusedMultiplyAdd(a2, b, c20); c30 = Vector512.FusedMultiplyAdd(a3, b, c30);
            b = Vector512.Load(x1 + i);
            c01 = Vector512.FusedMultiplyAdd(a0, b, c01); c11 = Vector512.FusedMultiplyAdd(a1, b, c11);
            c21 = Vector512.FusedMultiplyAdd(a2, b, c21); c31 = Vector512.FusedMultiplyAdd(a3, b, c31);
            b = Vector512.Load(x2 + i);
            c02 = Vector512.FusedMultiplyAdd(a0, b, c02); c12 = Vector512.FusedMultiplyAdd(a1, b, c12);
            c22 = Vector512.FusedMultiplyAdd(a2, b, c22); c32 = Vector512.FusedMultiplyAdd(a3, b, c32);
            b = Vector512.Load(x3 + i);
            c03 = Vector512.FusedMultiplyAdd(a0, b, c03); c13 = Vector512.FusedMultiplyAdd(a1, b, c13);
            c23 = Vector512.FusedMultiplyAdd(a2, b, c23); c33 = Vector512.FusedMultiplyAdd(a3, b, c33);
        }
        float s00 = Vector512.Sum(c00), s01 = Vector512.Sum(c01), s02 = Vector512.Sum(c02), s03 = Vector512.Sum(c03);
        float s10 = Vector512.Sum(c10), s11 = Vector512.Sum(c11), s12 = Vector512.Sum(c12), s13 = Vector512.Sum(c13);
        float s20 = Vector512.Sum(c20), s21 = Vector512.Sum(c21), s22 = Vector512.Sum(c22), s23 = Vector512.Sum(c23);
        float s30 = Vector512.Sum(c30), s31 = Vector512.Sum(c31), s32 = Vector512.Sum(c32), s33 = Vector512.Sum(c33);
        for (; i < k; i++)
        {
            float a0 = w0[i], a1 = w1[i], a2 = w2[i], a3 = w3[i];
            float b0 = x0[i], b1 = x1[i], b2 = x2[i], b3 = x3[i];
            s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
            s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
            s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
            s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
        }
        // C is token-major: token j's outputs start at c + j * ldc.
        c[0] = s00; c[1] = s10; c[2] = s20; c[3] = s30;
        c[ldc] = s01; c[ldc + 1] = s11; c[ldc + 2] = s21; c[ldc + 3] = s31;
        c[2 * ldc] = s02; c[2 * ldc + 1] = s12; c[2 * ldc + 2] = s22; c[2 * ldc + 3] = s32;
        c[3 * ldc] = s03; c[3 * ldc + 1] = s13; c[3 * ldc + 2] = s23; c[3 * ldc + 3] = s33;
    }

    /// <summary>Frees the scratch blocks.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _scratch.Length; i++)
        {
            if (_scratch[i] == null) continue;
            NativeMemory.AlignedFree(_scratch[i]);
            _scratch[i] = null;
        }
    }
}
