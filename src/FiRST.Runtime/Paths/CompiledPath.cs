using FiRST.Runtime.Inference;
using FiRST.Runtime.Kernels;

namespace FiRST.Runtime.Paths;

/// <summary>
/// The base of a generated task path: a fixed list of layers and the model's shape as a type. A session
/// decoding on it runs the runtime's compiled decoder for <typeparamref name="TShape"/>: one parallel region
/// per token in which each thread owns the same rows of every kept matrix for the session's life, with
/// every shape a constant. The generic <see cref="MaskedPath"/> runs the same layer math one kernel call at
/// a time. Generated code derives from this class; users get instances from the generated class.
/// </summary>
/// <typeparam name="TShape">The generated shape struct of the model.</typeparam>
public abstract class CompiledPath<TShape> : IDecodePath, ICompiledPath where TShape : struct, IModelShape
{
    private readonly int[] _kept;

    /// <summary>Creates the path of <paramref name="keptLayers"/> (ascending, as the generator writes them).</summary>
    /// <param name="keptLayers">The layers the path runs.</param>
    protected CompiledPath(int[] keptLayers)
    {
        ArgumentNullException.ThrowIfNull(keptLayers);
        Mask = LayerMask.FromKept(TShape.NLayers, keptLayers);
        _kept = [.. Mask.KeptLayers];
    }

    /// <inheritdoc />
    public LayerMask Mask { get; }

    /// <summary>
    /// Runs the kept layers one kernel call at a time (what a session does only where the compiled decoder
    /// cannot run, such as int8 weights with heads of a size not divisible by four).
    /// </summary>
    public void RunLayers(Transformer transformer, KvCache cache, int position)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        foreach (int layer in _kept) transformer.Layer(layer, position, cache);
    }

    CompiledDecoder? ICompiledPath.CreateDecoder(Transformer transformer, WorkerPool pool) =>
        CompiledDecoder<TShape>.TryCreate(this, _kept, transformer, pool);
}

/// <summary>What the session sees of a compiled path: a way to make its decoder.</summary>
internal interface ICompiledPath
{
    /// <summary>The decoder of this path for one session, or null where it cannot run (the session then calls the path's layers).</summary>
    CompiledDecoder? CreateDecoder(Transformer transformer, WorkerPool pool);
}
