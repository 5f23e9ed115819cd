using System;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using FiRST.Gen.Emit;
using FiRST.Gen.Model;
using FiRST.Gen.Parsing;
using FiRST.Schema;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace FiRST.Gen
{
    /// <summary>
    /// Specialises each class marked <c>[FiRST.FiRSTModel("file.json")]</c> for the model that file describes
    /// (see <c>ModelEmitter</c> for what is generated). The pipeline keeps only equatable values between steps,
    /// so typing elsewhere in the project re-runs nothing, and it never lets an exception reach the compiler:
    /// every problem is a FIRST diagnostic at the attribute (or, for a failure while emitting, which sees no
    /// location, one naming the class).
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class FiRSTModelGenerator : IIncrementalGenerator
    {
        /// <summary>Metadata name of the attribute that marks a model class.</summary>
        public const string AttributeName = "FiRST.FiRSTModelAttribute";

        /// <summary>
        /// Test seam, reachable only from FiRST.Gen.Tests (InternalsVisibleTo): when set, called with the step
        /// ("parse" or "emit") and the class name at the start of that step's guarded work, so a test can make
        /// the generator fail where a bug would. No input reaches those catch blocks on purpose (every problem in
        /// a profile has its own diagnostic, and fuzzing finds none that escapes), so without the seam the promise
        /// that a failure becomes FIRST008 and never an exception into the compiler could not be tested.
        /// AsyncLocal: test classes run in parallel, and a fault one test plants must not reach another's run.
        /// </summary>
        internal static readonly AsyncLocal<Action<string, string>?> FaultForTests = new AsyncLocal<Action<string, string>?>();

        /// <inheritdoc />
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var targets = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    AttributeName,
                    static (node, _) => node is ClassDeclarationSyntax || node is RecordDeclarationSyntax,
                    static (ctx, ct) => ReadTarget(ctx, ct))
                .Where(static target => target is not null)
                .Select(static (target, _) => target!)
                .WithTrackingName(TrackingNames.Targets);

            // Each file's text is read once, here; later steps compare strings, never AdditionalText objects.
            var files = context.AdditionalTextsProvider
                .Select(static (text, ct) => ReadFile(text, ct))
                .WithTrackingName(TrackingNames.FileTexts)
                .Collect()
                .WithTrackingName(TrackingNames.AllFiles);

            // Matching is cheap and separate from parsing, so an edit to an unrelated additional file leaves
            // the match unchanged and the parse cached.
            var matched = targets
                .Combine(files)
                .Select(static (pair, _) => new MatchedModel(pair.Left, FindFile(pair.Left.Target.Path, pair.Right)))
                .WithTrackingName(TrackingNames.Matched);

            var parsed = matched
                .Select(static (match, _) => Parse(match))
                .WithTrackingName(TrackingNames.Parsed);

            // Two outputs, as in System.Text.Json's generator: one only reports, one only adds source. The
            // diagnostics carry locations, which move with every edit above the attribute; the emit model
            // carries none, so such an edit re-runs the parse (to move the diagnostics) but its emit model
            // compares equal and the source output stays cached.
            var diagnostics = parsed
                .Select(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.Diagnostics);
            context.RegisterSourceOutput(diagnostics, static (spc, list) =>
            {
                foreach (var diagnostic in list) spc.ReportDiagnostic(diagnostic.ToDiagnostic());
            });

            var emitModels = parsed
                .Select(static (result, _) => result.Emit)
                .WithTrackingName(TrackingNames.EmitModels);
            context.RegisterSourceOutput(emitModels, static (spc, model) =>
            {
                if (model != null) Emit(spc, model);
            });
        }

        /// <summary>
        /// Reads one additional file. The compiler's own reader reports I/O errors and returns null, but a host
        /// may throw instead (found by DiagnosticTests): that becomes a file that could not be read, reported
        /// as FIRST006 where a model class asks for it, not an exception that drops the generator's output.
        /// </summary>
        private static ModelFile ReadFile(AdditionalText text, CancellationToken ct)
        {
            try
            {
                return new ModelFile(text.Path, text.GetText(ct)?.ToString());
            }
            catch (Exception e) when (!(e is OperationCanceledException))
            {
                return new ModelFile(text.Path, null, e.GetType().Name + ": " + e.Message);
            }
        }

        /// <summary>Reduces the attributed class to a <see cref="LocatedTarget"/>; <c>null</c> for non-classes.</summary>
        private static LocatedTarget? ReadTarget(GeneratorAttributeSyntaxContext ctx, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            if (!(ctx.TargetSymbol is INamedTypeSymbol type) || type.TypeKind != TypeKind.Class) return null;
            if (!(ctx.TargetNode is TypeDeclarationSyntax declaration)) return null;

            var attribute = ctx.Attributes.FirstOrDefault();
            var attributeSyntax = attribute?.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax;
            var argumentSyntax = attributeSyntax?.ArgumentList?.Arguments.FirstOrDefault();
            string? path = attribute != null && attribute.ConstructorArguments.Length == 1
                ? attribute.ConstructorArguments[0].Value as string
                : null;

            // Task = "name": a one-task build. A value that is not a constant string reads as "no such task".
            string? task = null;
            AttributeArgumentSyntax? taskSyntax = null;
            foreach (var named in attribute?.NamedArguments ?? ImmutableArray<System.Collections.Generic.KeyValuePair<string, TypedConstant>>.Empty)
                if (named.Key == "Task") task = named.Value.Value as string ?? "";
            if (task != null && attributeSyntax?.ArgumentList != null)
                taskSyntax = attributeSyntax.ArgumentList.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == "Task");

            string accessibility = type.DeclaredAccessibility switch
            {
                Accessibility.Public => "public",
                Accessibility.Internal => "internal",
                _ => "",
            };
            string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n
                ? n.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted))
                : "";
            string name = SyntaxFacts.GetKeywordKind(type.Name) != SyntaxKind.None ? "@" + type.Name : type.Name;

            var target = new ModelTarget(
                Namespace: ns,
                ClassName: name,
                Keyword: declaration is RecordDeclarationSyntax ? "record" : "class",
                Accessibility: accessibility,
                IsStatic: type.IsStatic,
                IsPartial: declaration.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)),
                IsGeneric: type.IsGenericType,
                IsNested: type.ContainingType != null || type.IsFileLocal,
                Path: path,
                Task: task);
            return new LocatedTarget(target, LocationInfo.From(attributeSyntax), LocationInfo.From(argumentSyntax), LocationInfo.From(taskSyntax));
        }

        /// <summary>
        /// The additional file whose path ends with <paramref name="path"/> at a folder boundary, separators
        /// normalised to '/'. An exact match wins over a suffix match; among suffix matches, the first.
        /// </summary>
        internal static ModelFile? FindFile(string? path, ImmutableArray<ModelFile> files)
        {
            if (string.IsNullOrWhiteSpace(path)) return null;
            string wanted = Normalize(path!);
            while (wanted.StartsWith("./", StringComparison.Ordinal)) wanted = wanted.Substring(2);
            if (wanted.Length == 0) return null;

            ModelFile? suffixMatch = null;
            foreach (var file in files)
            {
                string candidate = Normalize(file.Path);
                if (string.Equals(candidate, wanted, StringComparison.Ordinal)) return file;
                if (suffixMatch is null
                    && candidate.EndsWith(wanted, StringComparison.Ordinal)
                    && (wanted[0] == '/' || candidate[candidate.Length - wanted.Length - 1] == '/'))
                    suffixMatch = file;
            }
            return suffixMatch;
        }

        private static string Normalize(string path) => path.Replace('\\', '/');

        /// <summary>
        /// Validates the target and parses its file into what to emit and, separately, what to report. Never
        /// throws: a bug becomes FIRST008 at the attribute's argument.
        /// </summary>
        internal static ModelResult Parse(MatchedModel match)
        {
            var located = match.Target;
            var target = located.Target;
            string file = target.Path ?? "";
            try
            {
                FaultForTests.Value?.Invoke("parse", target.ClassName);
                string? classProblem =
                    !target.IsPartial ? "the class is not partial; declare it 'partial' so the generator can add members"
                    : target.IsGeneric ? "generic classes are not supported"
                    : target.IsNested ? "nested or file-local classes are not supported; declare it at namespace level"
                    : ProfileSchema.Members.Contains(target.ClassName) ? $"the class name '{target.ClassName}' is also the name of a generated member; rename the class"
                    : null;
                if (classProblem != null)
                    return Failed(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedClass, located.AttributeLocation, target.ClassName, classProblem));

                if (match.File is null)
                    return Failed(DiagnosticInfo.Create(DiagnosticDescriptors.FileNotFound, located.FileLocation, file));
                if (match.File.Text is null)
                    return Failed(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedModel, located.FileLocation, file,
                        match.File.ReadError is null ? "the file could not be read" : "the file could not be read (" + match.File.ReadError + ")"));

                var (spec, diagnostics) = ModelSpecParser.Parse(match.File.Text, file, target.ClassName, located.FileLocation);
                if (spec != null && target.Task != null)
                {
                    // A one-task build: that task alone, so the manifest, load options and path table are its own.
                    var only = spec.Tasks.FirstOrDefault(t => t.Name == target.Task);
                    if (only is null)
                        return Failed(DiagnosticInfo.Create(DiagnosticDescriptors.TaskNotFound, located.TaskLocation ?? located.AttributeLocation, target.Task, file,
                            spec.Tasks.Count == 0 ? "(none)" : string.Join(", ", spec.Tasks.Select(t => t.Name))));
                    spec = spec with { Tasks = new EquatableArray<TaskSpec>(new[] { only }) };
                }
                return new ModelResult(spec is null ? null : new EmitModel(target, spec, file, ProfileHash.Of(match.File.Text)), diagnostics);
            }
            catch (Exception e)
            {
                return Failed(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, located.FileLocation, file, e.GetType().Name + ": " + e.Message));
            }
        }

        private static ModelResult Failed(DiagnosticInfo diagnostic)
            => new ModelResult(null, new EquatableArray<DiagnosticInfo>(new[] { diagnostic }));

        private static void Emit(SourceProductionContext spc, EmitModel model)
        {
            string source;
            try
            {
                FaultForTests.Value?.Invoke("emit", model.Target.ClassName);
                source = ModelEmitter.Emit(model.Target, model.Spec, model.SourcePath, model.ProfileHash);
            }
            catch (Exception e)
            {
                // The emit model deliberately holds no location (see EmitModel), so this FIRST008 has none;
                // the message names the class instead. The spec is validated, so this is a generator bug.
                spc.ReportDiagnostic(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, null, model.SourcePath,
                    "emitting class " + model.Target.ClassName + ": " + e.GetType().Name + ": " + e.Message).ToDiagnostic());
                return;
            }

            try
            {
                spc.AddSource(model.Target.HintName, SourceText.From(source, Encoding.UTF8));
            }
            catch (ArgumentException)
            {
                // The same class attributed in two partial declarations gives two targets with one hint name;
                // the compiler already reports the repeated attribute (CS0579), and one generated part is enough.
            }
        }
    }
}
