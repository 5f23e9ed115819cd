namespace FiRST.Gen.Model
{
    /// <summary>
    /// The parse step's result for one target, which the pipeline splits in two: <see cref="Emit"/> feeds the
    /// output that adds source, <see cref="Diagnostics"/> the output that only reports. Kept apart so that the
    /// locations in diagnostics never reach the emitter's input.
    /// </summary>
    /// <param name="Emit">What to generate; <c>null</c> when <paramref name="Diagnostics"/> holds errors.</param>
    /// <param name="Diagnostics">Errors to report, with their locations (nothing is generated when there are any).</param>
    internal sealed record ModelResult(EmitModel? Emit, EquatableArray<DiagnosticInfo> Diagnostics);
}
