using System.Runtime.CompilerServices;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Matrix-vector products <c>out = W x</c> for row-major <c>[rows, cols]</c> matrices, split by rows over a
/// <see cref="WorkerPool"/>. Up to three matrices that read the same input (query, key and value; gate and
/// up) go out as one job, so the workers are woken once for them. One instance per session: its fields are
/// set for each call, so a call allocates nothing.
/// </summary>
internal sealed unsafe class MatVec : ParallelJob
{
    /// <summary>Below this many multiply-adds a product runs on the calling thread: waking workers costs more.</summary>
    public const long ParallelThreshold = 1 << 15;

    private const int MaxParts = 3;

    /// <summary>Float32 matrices at least this large come from memory, not cache: read them one row at a time.</summary>
    internal const long StreamingBytes = 1 << 20;

    private readonly WorkerPool _pool;
    private readonly Matrix[] _w = new Matrix[MaxParts];
    private readonly nint[] _out = new nint[MaxParts];
    private readonly int[] _firstRow = new int[MaxParts + 1];
    private int _parts;
    private float* _x;
    private QuantizedVector _xq;
    private Int8Activations? _activations;

    /// <summary>Creates the kernel on a pool.</summary>
    public MatVec(WorkerPool pool) => _pool = pool;

    /// <summary>Whether int8 weights multiply the input quantized to int8 (where the integer kernels run). Default true.</summary>
    public bool QuantizeActivations { get; set; } = true;

    /// <summary>Computes <c>output[r] = dot(w row r, x)</c> for every row.</summary>
    public void Run(Span<float> output, ReadOnlySpan<float> x, Matrix w)
    {
        fixed (float* o = output)
        {
            Check(output, x, w);
            _w[0] = w; _out[0] = (nint)o;
            Dispatch(x, 1);
        }
    }

    /// <summary>Two products of the same input in one job.</summary>
    public void Run(Span<float> out0, Matrix w0, Span<float> out1, Matrix w1, ReadOnlySpan<float> x)
    {
        fixed (float* o0 = out0)
        fixed (float* o1 = out1)
        {
            Check(out0, x, w0); Check(out1, x, w1);
            _w[0] = w0; _out[0] = (nint)o0;
            _w[1] = w1; _out[1] = (nint)o1;
            Dispatch(x, 2);
        }
    }

    /// <summary>Three products of the same input in one job.</summary>
    public void Run(Span<float> out0, Matrix w0, Span<float> out1, Matrix w1, Span<float> out2, Matrix w2, ReadOnlySpan<float> x)
    {
        fixed (float* o0 = out0)
        fixed (float* o1 = out1)
        fixed (float* o2 = out2)
        {
            Check(out0, x, w0); Check(out1, x, w1); Check(out2, x, w2);
            _w[0] = w0; _out[0] = (nint)o0;
            _w[1] = w1; _out[1] = (nint)o1;
            _w[2] = w2; _out[2] = (nint)o2;
            Dispatch(x, 3);
        }
    }

    private static void Check(Span<float> output, ReadOnlySpan<float> x, Matrix w)
    {
        if (output.Length < w.Rows || x.Length != w.Cols)
            throw new ArgumentException($"matrix [{w.Rows}, {w.Cols}] does not fit input {x.Length} / output {output.Length}");
    }

    private void Dispatch(ReadOnlySpan<float> x, int parts)
    {
        fixed (float* xp = x)
        {
            _x = xp;
            _parts = parts;
            long work = 0;
            bool aligned = true;
            for (int i = 0; i < parts; i++)
            {
                _firstRow[i + 1] = _firstRow[i] + _w[i].Rows;
                work += _w[i].Length;
                aligned &= _w[i].Rows % 4 == 0;
            }
            int rows = _firstRow[parts];
            _xq = QuantizeFor(xp, x.Length, parts);
            if (work < ParallelThreshold) Execute(0, rows);
            // Chunks of four rows must not straddle two matrices (the kernels work in blocks of four); for the
            // rare shape where a row count is not a multiple of four, one job per matrix.
            else if (aligned || parts == 1) _pool.Run(this, rows, grain: 4);
            else
            {
                Span<Matrix> ws = stackalloc Matrix[parts];
                Span<nint> os = stackalloc nint[parts];
                _w.AsSpan(0, parts).CopyTo(ws);
                _out.AsSpan(0, parts).CopyTo(os);
                for (int i = 0; i < parts; i++)
                {
                    _w[0] = ws[i]; _out[0] = os[i]; _parts = 1; _firstRow[1] = ws[i].Rows;
                    _pool.Run(this, ws[i].Rows, grain: 4);
                }
            }
            _x = null;
            _xq = default;
        }
    }

    /// <summary>
    /// The input quantized to int8 once for the whole job when a matrix in it is int8 that the integer kernels
    /// can multiply; otherwise nothing (the float kernels run). The buffer grows to the longest input once.
    /// </summary>
    private QuantizedVector QuantizeFor(float* x, int length, int parts)
    {
        for (int i = 0; i < parts && QuantizeActivations; i++)
        {
            if (!Int8Activations.AreUsedBy(_w[i])) continue;
            if (_activations is null || _activations.Capacity < length) _activations = new Int8Activations(length);
            return _activations.Quantize(x, length, _w[i].GroupSize);
        }
        return default;
    }

    /// <inheritdoc />
    public override void Execute(int start, int end)
    {
        for (int i = 0; i < _parts && start < end; i++)
        {
            int first = _firstRow[i], last = _firstRow[i + 1];
            if (start >= last) continue;
            int s = start - first, e = Math.Min(end, last) - first;
            Rows(_w[i], _x, (float*)_out[i], s, e, _xq);
            start = last;
        }
    }

    /// <summary>
    /// <c>o[r] = dot(w row r, x)</c> for rows <c>[start, end)</c>, with the kernel that suits the matrix: int8,
    /// bfloat16, streaming for float32 matrices larger than the caches, four rows at a time otherwise. The one place
    /// that choice is made (the compiled decoder uses it too). For int8, <paramref name="start"/> must be a
    /// multiple of four. Int8 and 4-bit weights multiply <paramref name="xq"/>, the same vector quantized to int8, where it
    /// is given in the matrix's groups and the processor runs the integer kernels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Rows(Matrix w, float* x, float* o, int start, int end, in QuantizedVector xq = default)
    {
        if (w.IsFourBit) Q4Kernels.Rows(w, xq, x, o, start, end);
        else if (w.IsInt8)
        {
            if (xq.IsSet && xq.GroupSize == w.GroupSize && Int8DotKernels.Supports(w)) Int8DotKernels.Rows(w, xq, x, o, start, end);
            else Q8Kernels.Rows(w, x, o, start, end);
        }
        else if (w.IsBFloat16) BFloat16Kernels.Rows(w.BFloat16, w.Cols, x, o, start, end);
        else if (w.Bytes >= StreamingBytes) DotKernels.RowsStreaming(w.Data, w.Cols, x, o, start, end);
        else DotKernels.Rows(w.Data, w.Cols, x, o, start, end);
    }
}
