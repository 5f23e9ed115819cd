namespace FiRST.Gen.Model
{
    /// <summary>
    /// Everything the emitter reads, and nothing else: no location and no diagnostic, so an edit that only
    /// moves the attribute (or changes which errors are reported where) leaves this equal and the generated
    /// source cached, as System.Text.Json's generator keeps its emitter's input free of locations.
    /// </summary>
    /// <param name="Target">The attributed class.</param>
    /// <param name="Spec">The validated model.</param>
    /// <param name="SourcePath">The attribute's path, named in the generated file's header.</param>
    /// <param name="ProfileHash">
    /// The profile text's fingerprint, named in the header. Computed from the text in the parse step, so an edit
    /// that leaves <paramref name="Spec"/> equal (whitespace, a number the emitter does not read) still changes
    /// the header, and a snapshot of the generated code shows that the profile changed.
    /// </param>
    internal sealed record EmitModel(ModelTarget Target, ModelSpec Spec, string SourcePath, string ProfileHash);
}
