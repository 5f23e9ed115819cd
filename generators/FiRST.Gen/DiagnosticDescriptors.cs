using Microsoft.CodeAnalysis;

namespace FiRST.Gen
{
    /// <summary>
    /// Every diagnostic the generator reports. An id never changes meaning once released; a new problem gets
    /// a new id, recorded in <c>AnalyzerReleases.Unshipped.md</c>. All are errors: the generator emits nothing
    /// for a model it reports one for, so building on would only produce confusing follow-up errors.
    /// </summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "FiRST";

        /// <summary>The attribute's file is not an <c>AdditionalFiles</c> item of the project.</summary>
        public static readonly DiagnosticDescriptor FileNotFound = new DiagnosticDescriptor(
            id: "FIRST001",
            title: "Model file is not among the project's AdditionalFiles",
            messageFormat: "The model file '{0}' is not among the project's AdditionalFiles: add <AdditionalFiles Include=\"{0}\" /> to the project file (files matching **/*.first.json are added automatically by the FiRST.Gen package's build props)",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "The generator reads the profile or config.json named by [FiRSTModel] through AdditionalFiles; the attribute's path is matched against the end of each additional file's path.");

        /// <summary>The file is not well-formed JSON.</summary>
        public static readonly DiagnosticDescriptor InvalidJson = new DiagnosticDescriptor(
            id: "FIRST002",
            title: "Model file is not valid JSON",
            messageFormat: "The model file '{0}' is not valid JSON: {1} at line {2}, column {3}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        /// <summary>A task's layer mask does not fit the model.</summary>
        public static readonly DiagnosticDescriptor InvalidMask = new DiagnosticDescriptor(
            id: "FIRST003",
            title: "Task's layer mask does not fit the model",
            messageFormat: "Task '{0}' in '{1}' has a layer mask that does not fit the model: {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "kept_layers must list layer indices in [0, n_layers), ascending and without repeats; skipped_layers, when present, must be exactly the other layers; mean_p, when present, has one entry per layer.");

        /// <summary>The attributed class cannot be extended by a generated part.</summary>
        public static readonly DiagnosticDescriptor UnsupportedClass = new DiagnosticDescriptor(
            id: "FIRST004",
            title: "[FiRSTModel] class must be a top-level, non-generic partial class",
            messageFormat: "[FiRSTModel] cannot generate '{0}': {1}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        /// <summary>A task name is not a usable identifier, or two names clash.</summary>
        public static readonly DiagnosticDescriptor InvalidTaskName = new DiagnosticDescriptor(
            id: "FIRST005",
            title: "Task name is not a valid or unique identifier",
            messageFormat: "Task name {0} in '{1}' cannot be used: {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "Task names become C# identifiers (an enum member and a path class): letters, digits and '_', not starting with a digit, unique ignoring case.");

        /// <summary>The file describes no model this generator supports.</summary>
        public static readonly DiagnosticDescriptor UnsupportedModel = new DiagnosticDescriptor(
            id: "FIRST006",
            title: "Model file describes no supported model",
            messageFormat: "The model file '{0}' cannot be used: {1}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "The file must be a FiRST profile (schema 'first.profile/1' or 'first.profile/2', architecture 'llama') or a Hugging Face Llama config.json, with valid model dimensions.");

        /// <summary>A task keeps no layer at all.</summary>
        public static readonly DiagnosticDescriptor EmptyMask = new DiagnosticDescriptor(
            id: "FIRST007",
            title: "Task skips every layer",
            messageFormat: "Task '{0}' in '{1}' keeps no layer: a task must keep at least one layer",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        /// <summary>The generator itself failed; always a bug in FiRST.Gen.</summary>
        public static readonly DiagnosticDescriptor InternalError = new DiagnosticDescriptor(
            id: "FIRST008",
            title: "FiRST generator failed",
            messageFormat: "The FiRST generator failed on '{0}': {1}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "An unexpected error inside the generator, reported instead of crashing the compiler; please report it with the model file.");

        /// <summary>A task's early-exit thresholds break the schema.</summary>
        public static readonly DiagnosticDescriptor InvalidEarlyExit = new DiagnosticDescriptor(
            id: "FIRST009",
            title: "Task's early-exit thresholds are invalid",
            messageFormat: "Task '{0}' in '{1}' has early-exit thresholds that cannot be used: {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "early_exit (schema 'first.profile/2' only) holds thresholds: one entry per layer, each null (no exit after that layer) or a top probability in (0, 1], at least one not null.");

        /// <summary>A task's self-speculation plan breaks the schema or does not fit its mask.</summary>
        public static readonly DiagnosticDescriptor InvalidSpeculation = new DiagnosticDescriptor(
            id: "FIRST010",
            title: "Task's speculation plan is invalid",
            messageFormat: "Task '{0}' in '{1}' has a speculation plan that cannot be used: {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "speculation (schema 'first.profile/2' only) holds draft_layers, from 1 to the task's kept layers less one (the draft runs the first ones, the rest verify), and lookahead, from 1 to " + FiRST.Schema.ProfileSchema.MaxLookahead + " drafted tokens per round.");

        /// <summary>The attribute's <c>Task</c> names no task of the profile.</summary>
        public static readonly DiagnosticDescriptor TaskNotFound = new DiagnosticDescriptor(
            id: "FIRST011",
            title: "The task to generate is not in the profile",
            messageFormat: "Task '{0}' is not in '{1}': its tasks are {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "[FiRSTModel(path, Task = \"name\")] generates one task of the profile; the name must be one the profile's tasks list, spelled as there.");
    }
}
