namespace FiRST.Gen.Model
{
    /// <summary>
    /// A <see cref="ModelTarget"/> with where its diagnostics point. The locations change whenever text above
    /// the attribute changes, so they travel only to the parse step, which puts them into diagnostics; the
    /// emit model that leaves it has none (see <see cref="EmitModel"/>).
    /// </summary>
    /// <param name="Target">The attributed class.</param>
    /// <param name="AttributeLocation">The attribute, where diagnostics about the class point.</param>
    /// <param name="ArgumentLocation">The path argument, where diagnostics about the file point.</param>
    /// <param name="TaskLocation">The <c>Task</c> argument, where a diagnostic about the task it names points.</param>
    internal sealed record LocatedTarget(ModelTarget Target, LocationInfo? AttributeLocation, LocationInfo? ArgumentLocation, LocationInfo? TaskLocation = null)
    {
        /// <summary>Where diagnostics about the model file point: the argument, else the attribute.</summary>
        public LocationInfo? FileLocation => ArgumentLocation ?? AttributeLocation;
    }
}
