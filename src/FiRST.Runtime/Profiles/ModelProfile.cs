using System.Text.Json;

namespace FiRST.Runtime.Profiles;

/// <summary>Where a profile's router weights are and the threshold prefill compares their pooled output with.</summary>
/// <param name="File">Router weights file, relative to the profile.</param>
/// <param name="Threshold">A layer whose mean router output over the prompt falls below this is skipped.</param>
public sealed record RouterReference(string File, float Threshold);

/// <summary>One task of a profile: the layers it keeps and what calibration measured.</summary>
public sealed record TaskProfile
{
    /// <summary>The task's name (a C# identifier).</summary>
    public required string Name { get; init; }

    /// <summary>Kept layers, ascending.</summary>
    public required IReadOnlyList<int> KeptLayers { get; init; }

    /// <summary>Exact-match accuracy of the full model on the task's held-out prompts.</summary>
    public double? AccuracyFull { get; init; }

    /// <summary>Exact-match accuracy with this task's mask.</summary>
    public double? AccuracyMasked { get; init; }

    /// <summary>Share of generated tokens equal to the full model's.</summary>
    public double? Agreement { get; init; }

    /// <summary>Decode milliseconds per token of the full model.</summary>
    public double? MsPerTokenFull { get; init; }

    /// <summary>Decode milliseconds per token with this task's mask.</summary>
    public double? MsPerTokenMasked { get; init; }

    /// <summary>Full over masked decode time.</summary>
    public double? Speedup { get; init; }

    /// <summary>Calibration prompts the mask was chosen on.</summary>
    public int? Prompts { get; init; }

    /// <summary>Mean router output per layer over the task's prompts (<c>n_layers</c> entries).</summary>
    public IReadOnlyList<double>? MeanP { get; init; }

    /// <summary>Calibrated early-exit thresholds (one per layer, null where the token may not exit); null when not calibrated.</summary>
    public Decoding.EarlyExitOptions? EarlyExit { get; init; }

    /// <summary>The self-speculation plan calibration found for the task (draft layers among its kept ones, lookahead); null when none pays.</summary>
    public Decoding.SpeculationOptions? Speculation { get; init; }

    /// <summary>The task's mask over a model of <paramref name="layers"/> layers.</summary>
    public LayerMask Mask(int layers) => LayerMask.FromKept(layers, KeptLayers);
}

/// <summary>
/// A FiRST profile (<c>*.first.json</c>, schema <see cref="Schema"/> or <see cref="SchemaV1"/>, documented in
/// <c>docs/profile-schema.md</c>): a model's shape and one layer mask per task with its measurements, and
/// per task the calibrated early-exit thresholds and self-speculation plan. Calibration writes it; the
/// source generator and the dispatcher read it.
/// </summary>
public sealed record ModelProfile
{
    /// <summary>The schema version this runtime writes (and reads, as it reads <see cref="SchemaV1"/>).</summary>
    public const string Schema = FiRST.Schema.ProfileSchema.Version;

    /// <summary>The first schema version, still read: profiles without early-exit thresholds or speculation plans.</summary>
    public const string SchemaV1 = FiRST.Schema.ProfileSchema.VersionV1;

    /// <summary>Largest profile file accepted.</summary>
    private const long MaxBytes = 16L << 20;

    /// <summary>The model the profile was calibrated for.</summary>
    public required ModelConfig Model { get; init; }

    /// <summary>The routers calibration used, if any.</summary>
    public RouterReference? Routers { get; init; }

    /// <summary>The tasks, in file order.</summary>
    public required IReadOnlyList<TaskProfile> Tasks { get; init; }

    /// <summary>The task called <paramref name="name"/> (ordinal, case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such task; the message lists the known ones.</exception>
    public TaskProfile Task(string name) =>
        Tasks.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"no task '{name}' in the profile; it has: {string.Join(", ", Tasks.Select(t => t.Name))}");

    /// <summary>Throws unless the profile was made for a model of exactly <paramref name="config"/>'s shape.</summary>
    public void EnsureFits(ModelConfig config, string modelPath)
    {
        if (config != Model)
            throw new ModelLoadException(modelPath, "config", $"the profile is for a model of {Describe(Model)}, this model is {Describe(config)}");
    }

    private static string Describe(ModelConfig c) =>
        $"dim {c.Dim}, hidden {c.HiddenDim}, {c.NLayers} layers, {c.NHeads}/{c.NKvHeads} heads, vocab {c.VocabSize}, seq {c.MaxSeqLen}, " +
        $"norm_eps {c.NormEps:G}, rope_theta {c.RopeTheta:G}, rope_scaling {c.RopeScaling}, {(c.SharedClassifier ? "shared" : "separate")} classifier";

    /// <summary>Reads and validates a profile file.</summary>
    /// <exception cref="ModelLoadException">The file is missing, not JSON, or breaks the schema.</exception>
    public static ModelProfile Load(string path) => Parse(Loading.JsonFile.ReadBounded(path, MaxBytes, "profile not found"), path);

    /// <summary>Parses and validates profile JSON; <paramref name="source"/> names it in errors.</summary>
    public static ModelProfile Parse(ReadOnlyMemory<byte> json, string source) =>
        // Duplicate names are refused as the generator's reader refuses them: which of two values counts would
        // otherwise depend on the reader.
        Loading.JsonFile.Parse(json, source, ProfileReader.Read, maxDepth: FiRST.Schema.ProfileSchema.MaxJsonDepth, allowDuplicateProperties: false);

    /// <summary>Writes the profile as indented JSON.</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        ProfileWriter.Write(w, this);
    }
}
