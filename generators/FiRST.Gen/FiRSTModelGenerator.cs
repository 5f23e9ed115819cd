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
    /// every problem is a FIRST diagnostic at the attribute.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class FiRSTModelGenerator : IIncrementalGenerator
    {
        /// <summary>Metadata name of the attribute that marks a model class.</summary>
        public const string AttributeName = "FiRST.FiRSTModelAttribute";

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
                .Select(static (text, ct) => new ModelFile(text.Path, text.GetText(ct)?.ToString()))
                .WithTrackingName(TrackingNames.FileTexts)
                .Collect()
                .WithTrackingName(TrackingNames.AllFiles);

            // Matching is cheap and separate from parsing, so an edit to an unrelated additional file leaves
            // the match unchanged and the parse cached.
            var matched = targets
                .Combine(files)
                .Select(static (pair, _) => new MatchedModel(pair.Left, FindFile(pair.Left.Path, pair.Right)))
                .WithTrackingName(TrackingNames.Matched);

            var parsed = matched
                .Select(static (match, _) => Parse(match))
                .WithTrackingName(TrackingNames.Parsed);

            context.RegisterSourceOutput(parsed, static (spc, result) => Emit(spc, result));
        }

        /// <summary>Reduces the attributed class to a <see cref="ModelTarget"/>; <c>null</c> for non-classes.</summary>
        private static ModelTarget? ReadTarget(GeneratorAttributeSyntaxContext ctx, CancellationToken ct)
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

            return new ModelTarget(
                Namespace: ns,
                ClassName: name,
                Keyword: declaration is RecordDeclarationSyntax ? "record" : "class",
                Accessibility: accessibility,
                IsStatic: type.IsStatic,
                IsPartial: declaration.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)),
                IsGeneric: type.IsGenericType,
                IsNested: type.ContainingType != null || type.IsFileLocal,
                Path: path,
                AttributeLocation: LocationInfo.From(attributeSyntax),
                ArgumentLocation: LocationInfo.From(argumentSyntax));
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

        /// <summary>Validates the target and parses its file. Never throws: a bug becomes FIRST008.</summary>
        internal static ModelResult Parse(MatchedModel match)
        {
            var target = match.Target;
            string file = target.Path ?? "";
            try
            {
                string? classProblem =
                    !target.IsPartial ? "the class is not partial; declare it 'partial' so the generator can add members"
                    : target.IsGeneric ? "generic classes are not supported"
                    : target.IsNested ? "nested or file-local classes are not supported; declare it at namespace level"
                    : ProfileSchema.Members.Contains(target.ClassName) ? $"the class name '{target.ClassName}' is also the name of a generated member; rename the class"
                    : null;
                if (classProblem != null)
                    return Failed(match, DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedClass, target.AttributeLocation, target.ClassName, classProblem));

                if (match.File is null)
                    return Failed(match, DiagnosticInfo.Create(DiagnosticDescriptors.FileNotFound, target.FileLocation, file));
                if (match.File.Text is null)
                    return Failed(match, DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedModel, target.FileLocation, file, "the file could not be read"));

                var (spec, diagnostics) = ModelSpecParser.Parse(match.File.Text, file, target.ClassName, target.FileLocation);
                return new ModelResult(target, spec, file, diagnostics);
            }
            catch (Exception e)
            {
                return Failed(match, DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, target.FileLocation, file, e.GetType().Name + ": " + e.Message));
            }
        }

        private static ModelResult Failed(MatchedModel match, DiagnosticInfo diagnostic)
            => new ModelResult(match.Target, null, match.Target.Path ?? "", new EquatableArray<DiagnosticInfo>(new[] { diagnostic }));

        private static void Emit(SourceProductionContext spc, ModelResult result)
        {
            foreach (var diagnostic in result.Diagnostics) spc.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (result.Spec is null) return;

            string source;
            try
            {
                source = ModelEmitter.Emit(result.Target, result.Spec, result.SourcePath);
            }
            catch (Exception e)
            {
                spc.ReportDiagnostic(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, result.Target.FileLocation, result.SourcePath, e.GetType().Name + ": " + e.Message).ToDiagnostic());
                return;
            }

            try
            {
                spc.AddSource(result.Target.HintName, SourceText.From(source, Encoding.UTF8));
            }
            catch (ArgumentException)
            {
                // The same class attributed in two partial declarations gives two targets with one hint name;
                // the compiler already reports the repeated attribute (CS0579), and one generated part is enough.
            }
        }
    }
}
