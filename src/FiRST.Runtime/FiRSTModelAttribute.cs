namespace FiRST;

/// <summary>
/// Asks the FiRST.Gen source generator to specialise the <c>partial</c> class it marks for one model: the
/// JSON file (a FiRST profile, or a bare Hugging Face <c>config.json</c>) must be an <c>AdditionalFiles</c>
/// item. The generator emits the model's constants, an enum of the profile's tasks, one straight-line decode
/// path per task, the manifest of layers any task uses, and the table that maps a layer mask to its path.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class FiRSTModelAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="path">The profile or config file, as listed in <c>AdditionalFiles</c> (matched by its path's end).</param>
    public FiRSTModelAttribute(string path) => Path = path;

    /// <summary>The profile or config file.</summary>
    public string Path { get; }

    /// <summary>
    /// Restricts the class to one task of the profile (its name as the profile writes it): only that task's
    /// path, manifest and load options are generated, as a one-task build ships (see <c>first export</c>).
    /// Null, the default, generates every task.
    /// </summary>
    public string? Task { get; set; }
}
