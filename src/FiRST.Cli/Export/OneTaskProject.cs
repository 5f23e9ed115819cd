using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FiRST.Runtime;
using FiRST.Runtime.Loading;

namespace FiRST.Cli.Export;

/// <summary>
/// Writes what <c>first export</c> produces: the task's weights (only its kept layers, plus embedding, final norm
/// and classifier), the tokenizer, the profile, and a NativeAOT project whose <c>[FiRSTModel]</c> is restricted
/// to the task. The project's files are templates embedded in this assembly (<c>Export/*.template</c>).
/// </summary>
internal static class OneTaskProject
{
    /// <summary>What was written, for the command's report.</summary>
    public sealed record Written(string Directory, string Name, long WeightBytes, LayerMask Mask, string InstructionSet);

    public static Written Write(LlamaModel model, string profilePath, string task, LayerMask mask, string tokenizerPath, bool q8,
                                string outDir, string? packageSource, string? runtimeVersion, string example)
    {
        Directory.CreateDirectory(outDir);
        long weightBytes = SafetensorsWriter.Write(model, outDir);
        string tokenizerName = "tokenizer" + Path.GetExtension(tokenizerPath);
        File.Copy(tokenizerPath, Path.Combine(outDir, tokenizerName), overwrite: true);
        File.Copy(profilePath, Path.Combine(outDir, "model.first.json"), overwrite: true);

        string name = Identifier(task);
        string isa = InstructionSet();
        var values = new Dictionary<string, string>
        {
            ["$NAME$"] = name,
            ["$TASK$"] = task,
            ["$PROFILE$"] = Path.GetFileName(profilePath),
            ["$EXAMPLE$"] = example.Replace("\\", "\\\\").Replace("\"", "\\\""),
            ["$FORMAT$"] = q8 ? "WeightFormat.Q8" : "WeightFormat.AsStored",
            ["$TOKENIZER$"] = tokenizerName,
            ["$TOKENIZERJSON$"] = tokenizerName.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "true" : "false",
            ["$RID$"] = RuntimeInformation.RuntimeIdentifier,
            ["$ISA$"] = isa,
            ["$VERSION$"] = runtimeVersion ?? RuntimeVersion(),
        };
        File.WriteAllText(Path.Combine(outDir, "Program.cs"), Fill("Program.cs.template", values));
        File.WriteAllText(Path.Combine(outDir, name + ".csproj"), Fill("App.csproj.template", values));
        if (packageSource is not null)
            File.WriteAllText(Path.Combine(outDir, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <!-- Written by 'first export' (its package-source option): where FiRST.Runtime is restored from, beside the usual sources. -->
                <configuration>
                  <packageSources>
                    <add key="first-export" value="{System.Security.SecurityElement.Escape(Path.GetFullPath(packageSource))}" />
                  </packageSources>
                </configuration>
                """);
        return new Written(outDir, name, weightBytes, mask, isa);
    }

    /// <summary>
    /// The widest x64 level this processor runs (x86-64-v4 is AVX-512), so the AOT compiler emits the kernels'
    /// widest vectors without runtime checks; elsewhere the compiler's default.
    /// </summary>
    private static string InstructionSet()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return "";
        if (Vector512.IsHardwareAccelerated) return "x86-64-v4";
        if (Vector256.IsHardwareAccelerated) return "x86-64-v3";
        return "x86-64-v2";
    }

    /// <summary>The FiRST.Runtime version this tool carries, the package the project asks for.</summary>
    private static string RuntimeVersion()
    {
        string version = typeof(LlamaModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "1.0.0";
        int plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    /// <summary>The task name as a file and assembly name: letters, digits, '-' and '_'.</summary>
    private static string Identifier(string task)
    {
        var chars = task.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray();
        string name = new string(chars).Trim('-');
        return name.Length == 0 ? "task" : name;
    }

    private static string Fill(string template, Dictionary<string, string> values)
    {
        using var stream = typeof(OneTaskProject).Assembly.GetManifestResourceStream("FiRST.Cli.Export." + template)
            ?? throw new InvalidOperationException($"the template {template} is not embedded in first");
        string text = new StreamReader(stream).ReadToEnd();
        foreach (var (key, value) in values) text = text.Replace(key, value);
        return text;
    }
}
