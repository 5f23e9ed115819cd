namespace FiRST.Gen.Model
{
    /// <summary>What the emitter needs for one target: the spec to generate from, or the errors to report.</summary>
    /// <param name="Target">The attributed class.</param>
    /// <param name="Spec">The validated model; <c>null</c> when <paramref name="Diagnostics"/> holds errors.</param>
    /// <param name="SourcePath">The attribute's path, named in the generated file's header.</param>
    /// <param name="Diagnostics">Errors to report (nothing is generated when there are any).</param>
    internal sealed record ModelResult(ModelTarget Target, ModelSpec? Spec, string SourcePath, EquatableArray<DiagnosticInfo> Diagnostics);
}
