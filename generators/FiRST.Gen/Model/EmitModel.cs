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
    internal sealed record EmitModel(ModelTarget Target, ModelSpec Spec, string SourcePath);
}
