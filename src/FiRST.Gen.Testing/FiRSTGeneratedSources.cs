using System.Collections.ObjectModel;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace FiRST.Gen.Testing;

/// <summary>
/// The files FiRST.Gen generates for a profile, for snapshot tests: hand each file's text to Verify, Shouldly's
/// <c>ShouldMatchApproved</c> or any other snapshot library, and a change to the profile or to the generator
/// shows up as a diff to review. The generator runs in-process, exactly as a build runs it, on a class
/// <c>[FiRSTModel("file name")] public partial class className</c>.
/// </summary>
/// <example>
/// <code>
/// var files = FiRSTGeneratedSources.For("models/demo/model.first.json", "DemoModel", "MyApp");
/// foreach (var (hintName, text) in files)
///     text.ShouldMatchApproved(c => c.WithDiscriminator(hintName));
/// </code>
/// </example>
public static class FiRSTGeneratedSources
{
    /// <summary>The class name <see cref="For"/> uses when none is given.</summary>
    public const string DefaultClassName = "Model";

    // The generator binds only the attribute, so the compilation needs the core library and the runtime that
    // declares FiRSTModelAttribute, nothing else; the generated code itself is not compiled here.
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        string coreDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return
        [
            MetadataReference.CreateFromFile(typeof(object).Assembly.Location),
            MetadataReference.CreateFromFile(Path.Combine(coreDir, "System.Runtime.dll")),
            MetadataReference.CreateFromFile(typeof(FiRSTModelAttribute).Assembly.Location),
        ];
    });

    /// <summary>
    /// Runs FiRST.Gen on the profile at <paramref name="profilePath"/> and returns every file it generates.
    /// </summary>
    /// <param name="profilePath">A <c>*.first.json</c> profile or a Hugging Face <c>config.json</c>. The generated
    /// header names only its file name, so the result is the same on every machine.</param>
    /// <param name="className">The model class's name, as in the application (it names members and the file).</param>
    /// <param name="classNamespace">The class's namespace, as in the application; <c>null</c> for the global namespace.</param>
    /// <returns>Each generated file's text by its hint name (e.g. <c>MyApp.DemoModel.FiRST.g.cs</c>), in ordinal order of the names.</returns>
    /// <exception cref="FileNotFoundException">The profile does not exist.</exception>
    /// <exception cref="ArgumentException">The class name or namespace is not a C# name.</exception>
    /// <exception cref="InvalidOperationException">The generator reported an error (its FIRST diagnostics are in the message) or failed.</exception>
    public static IReadOnlyDictionary<string, string> For(string profilePath, string className = DefaultClassName, string? classNamespace = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(profilePath);
        if (!IsName(className)) throw new ArgumentException($"'{className}' is not a C# class name", nameof(className));
        if (classNamespace != null && !classNamespace.Split('.').All(IsName))
            throw new ArgumentException($"'{classNamespace}' is not a C# namespace", nameof(classNamespace));
        string fullPath = Path.GetFullPath(profilePath);
        if (!File.Exists(fullPath)) throw new FileNotFoundException($"profile not found: {fullPath}", fullPath);

        string fileName = SymbolDisplay.FormatLiteral(Path.GetFileName(fullPath), quote: true);
        string source = (classNamespace is null ? "" : $"namespace {classNamespace};\n")
                        + $"[global::FiRST.FiRSTModel({fileName})]\npublic partial class {className} {{ }}\n";
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create(
            "FiRST.Gen.Testing.Input",
            [CSharpSyntaxTree.ParseText(source, parseOptions)],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new FiRSTModelGenerator().AsSourceGenerator()], [new ProfileText(fullPath)], parseOptions);
        var result = driver.RunGenerators(compilation).GetRunResult().Results.Single();
        if (result.Exception != null)
            throw new InvalidOperationException($"FiRST.Gen failed on {fullPath}: {result.Exception.Message}", result.Exception);
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        if (errors.Length > 0)
            throw new InvalidOperationException($"FiRST.Gen reported errors for {fullPath}:\n" + string.Join("\n", errors.Select(e => e.ToString())));

        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var generated in result.GeneratedSources) files.Add(generated.HintName, generated.SourceText.ToString());
        return new ReadOnlyDictionary<string, string>(files);
    }

    /// <summary>An identifier that may name a class: not a keyword, unless written with <c>@</c>.</summary>
    private static bool IsName(string name) => name.StartsWith('@')
        ? SyntaxFacts.IsValidIdentifier(name[1..])
        : SyntaxFacts.IsValidIdentifier(name) && SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None;
}
