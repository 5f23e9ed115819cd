using FiRST.Runtime.Decoding;
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
    protected CompiledPath(int[] keptLayers) : this(null, keptLayers)
    {
    }

    /// <summary>Creates the path of task <paramref name="task"/>, with its draft half when the profile asks for speculation.</summary>
    /// <param name="task">The profile's task name (null for a path of no task, such as the all-layers path).</param>
    /// <param name="keptLayers">The layers the path runs, ascending.</param>
    /// <param name="speculation">The calibrated self-speculation plan, or null.</param>
    /// <param name="draft">The draft half: a path of exactly the first <see cref="SpeculationOptions.DraftLayers"/> kept layers; given with <paramref name="speculation"/> only.</param>
    /// <exception cref="ArgumentException">The draft half does not match the plan.</exception>
    protected CompiledPath(string? task, int[] keptLayers, SpeculationOptions? speculation = null, CompiledPath<TShape>? draft = null)
    {
        ArgumentNullException.ThrowIfNull(keptLayers);
        Mask = LayerMask.FromKept(TShape.NLayers, keptLayers);
        _kept = [.. Mask.KeptLayers];
        Task = task;
        if ((speculation is null) != (draft is null))
            throw new ArgumentException("a compiled path takes a speculation plan and its draft half together", nameof(draft));
        if (speculation is not null)
        {
            speculation.EnsureFits(_kept.Length);
            if (!draft!.Mask.Equals(LayerMask.FromKept(TShape.NLayers, _kept.AsSpan(0, speculation.DraftLayers).ToArray())))
                throw new ArgumentException($"the draft half runs {draft.Mask}, not the first {speculation.DraftLayers} of the path's layers {Mask}", nameof(draft));
        }
        Speculation = speculation;
        Draft = draft;
    }

    /// <inheritdoc />
    public LayerMask Mask { get; }

    /// <summary>The profile's task this path was generated for; null for a path of no task.</summary>
    public string? Task { get; }

    /// <summary>The self-speculation plan calibration found for the task, or null.</summary>
    public SpeculationOptions? Speculation { get; }

    /// <summary>The draft half of the path (its first <see cref="SpeculationOptions.DraftLayers"/> layers) when <see cref="Speculation"/> is set.</summary>
    public CompiledPath<TShape>? Draft { get; }

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

    ICompiledPath? ICompiledPath.Draft => Draft;
}

/// <summary>What the session sees of a compiled path: a way to make its decoder.</summary>
internal interface ICompiledPath
{
    /// <summary>The decoder of this path for one session, or null where it cannot run (the session then calls the path's layers).</summary>
    CompiledDecoder? CreateDecoder(Transformer transformer, WorkerPool pool);

    /// <summary>The profile's task, or null.</summary>
    string? Task { get; }

    /// <summary>The calibrated speculation plan, or null.</summary>
    SpeculationOptions? Speculation { get; }

    /// <summary>The draft half (a compiled path of the plan's first layers), or null.</summary>
    ICompiledPath? Draft { get; }
}
