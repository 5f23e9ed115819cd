using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Shouldly;

namespace FiRST.Gen.Tests;

/// <summary>The outcome of one generator run.</summary>
/// <param name="Driver">The driver after the run; it holds the cached step results for an incremental re-run.</param>
/// <param name="Input">The compilation the generator ran on.</param>
/// <param name="Output">The compilation with the generated sources added.</param>
/// <param name="Result">The run's result: generated sources, generator diagnostics, tracked steps.</param>
internal sealed record GeneratorRun(GeneratorDriver Driver, CSharpCompilation Input, Compilation Output, GeneratorRunResult Result)
{
    /// <summary>Diagnostics the generator reported.</summary>
    public ImmutableArray<Diagnostic> Diagnostics => Result.Diagnostics;

    /// <summary>The single generated file's text.</summary>
    public string Source => Result.GeneratedSources.ShouldHaveSingleItem().SourceText.ToString();

    /// <summary>Warnings and errors of the output compilation (generated code compiled with the input).</summary>
    public ImmutableArray<Diagnostic> CompilationProblems =>
        Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();
}

/// <summary>Builds compilations and drives <see cref="FiRSTModelGenerator"/> the way the compiler does.</summary>
internal static class TestHelpers
{
    /// <summary>Parse options of test compilations: latest language, documentation comments checked (CS1591).</summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        // The trusted platform assemblies are the framework plus everything this test host loaded from its
        // deps; the runtime assembly is added explicitly in case it was not among them.
        var paths = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(typeof(FiRST.Runtime.LlamaModel).Assembly.Location)
            .Distinct(StringComparer.Ordinal);
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    });

    /// <summary>The tracking names the generator declares (the constants of <see cref="TrackingNames"/>).</summary>
    public static readonly string[] TrackingNameValues = typeof(TrackingNames)
        .GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    /// <summary>Reads a test input from the Inputs folder next to the test assembly.</summary>
    public static string Input(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Inputs", name));

    /// <summary>A library compilation of <paramref name="sources"/> referencing the runtime.</summary>
    public static CSharpCompilation CreateCompilation(params string[] sources) => CSharpCompilation.Create(
        "FiRST.Gen.TestInput",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
        References.Value,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    /// <summary>A driver for the generator with <paramref name="texts"/> as AdditionalFiles, tracking steps.</summary>
    public static GeneratorDriver CreateDriver(params AdditionalText[] texts) => CSharpGeneratorDriver.Create(
        [new FiRSTModelGenerator().AsSourceGenerator()],
        texts,
        ParseOptions,
        optionsProvider: null,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator on <paramref name="source"/> with the given additional files.</summary>
    public static GeneratorRun Run(string source, params AdditionalText[] texts) => Run(CreateDriver(texts), CreateCompilation(source));

    /// <summary>Runs <paramref name="driver"/> (possibly holding an earlier run's cache) on <paramref name="compilation"/>.</summary>
    public static GeneratorRun Run(GeneratorDriver driver, CSharpCompilation compilation)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var result = driver.GetRunResult().Results.ShouldHaveSingleItem();
        result.Exception.ShouldBeNull();
        return new GeneratorRun(driver, compilation, output, result);
    }

    /// <summary>Runs the generator and asserts it produced one file that compiles with no warning or error.</summary>
    public static GeneratorRun RunAndCompile(string source, params AdditionalText[] texts)
    {
        var run = Run(source, texts);
        run.Diagnostics.ShouldBeEmpty();
        run.Result.GeneratedSources.Length.ShouldBe(1);
        run.CompilationProblems.ShouldBeEmpty(string.Join("\n", run.CompilationProblems));
        return run;
    }

    /// <summary>A documented public partial class in <paramref name="ns"/> marked for <paramref name="path"/>.</summary>
    public static string ModelClass(string className, string path, string ns = "Demo") => $$"""
        namespace {{ns}};

        /// <summary>A model class for the generator.</summary>
        [FiRST.FiRSTModel("{{path}}")]
        public partial class {{className}}
        {
        }
        """;
}
