using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// Matrix-vector product <c>out = W x</c> for a row-major <c>[rows, cols]</c> matrix, split by rows over a
/// <see cref="WorkerPool"/>. One instance per session: its fields are set for each call, so a call
/// allocates nothing.
/// </summary>
public sealed unsafe class MatVec : ParallelJob
{
    /// <summary>Below this many multiply-adds a product runs on the calling thread: waking workers costs more.</summary>
    public const long ParallelThreshold = 1 << 15;

    private readonly WorkerPool _pool;
    private float* _out;
    private float* _x;
    private Matrix _w;

    /// <summary>Creates the kernel on a pool.</summary>
    public MatVec(WorkerPool pool) => _pool = pool;

    /// <summary>Computes <c>output[r] = dot(w.Row(r), x)</c> for every row.</summary>
    public void Run(Span<float> output, ReadOnlySpan<float> x, Matrix w)
    {
        if (output.Length < w.Rows || x.Length != w.Cols)
            throw new ArgumentException($"matrix [{w.Rows}, {w.Cols}] does not fit input {x.Length} / output {output.Length}");
        fixed (float* o = output)
        fixed (float* xp = x)
        {
            _out = o;
            _x = xp;
            _w = w;
            if (w.Length < ParallelThreshold) Execute(0, w.Rows);
            else _pool.Run(this, w.Rows, grain: 4);
            _out = null;
            _x = null;
        }
    }

    /// <inheritdoc />
    public override void Execute(int start, int end)
    {
        if (_w.IsQuantized) Q8Kernels.Rows(_w, _x, _out, start, end);
        else DotKernels.Rows(_w.Data, _w.Cols, _x, _out, start, end);
    }
}
