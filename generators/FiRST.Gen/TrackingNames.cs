namespace FiRST.Gen
{
    /// <summary>
    /// Names of the generator's pipeline steps. Tests ask the driver for these steps to check that an
    /// unrelated edit leaves every step cached and that a profile edit re-runs exactly the steps it should.
    /// </summary>
    internal static class TrackingNames
    {
        /// <summary>Classes marked with <c>[FiRSTModel]</c>, reduced to <c>LocatedTarget</c>s.</summary>
        public const string Targets = nameof(Targets);

        /// <summary>Each additional file's path and text.</summary>
        public const string FileTexts = nameof(FileTexts);

        /// <summary>All additional files, collected into one array.</summary>
        public const string AllFiles = nameof(AllFiles);

        /// <summary>Each target paired with the additional file its attribute names.</summary>
        public const string Matched = nameof(Matched);

        /// <summary>Each target's parsed and validated model, or its diagnostics.</summary>
        public const string Parsed = nameof(Parsed);

        /// <summary>Each target's diagnostics (with locations), split off the parse result for the reporting output.</summary>
        public const string Diagnostics = nameof(Diagnostics);

        /// <summary>
        /// Each target's emit model (no locations), split off the parse result for the source output: it stays
        /// unchanged when an edit only moves the attribute.
        /// </summary>
        public const string EmitModels = nameof(EmitModels);
    }
}
