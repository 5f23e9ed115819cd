using System.Reflection;
using System.Text;
using Xunit;

namespace FiRST.Runtime.Tests.PublicApi;

/// <summary>
/// The runtime's public surface, kept in an approved file so that it cannot grow by accident: a change to it
/// fails here until the approved file is updated in the same commit (run with FIRST_APPROVE=1 to rewrite it,
/// then review the diff). Kernels, weights and scratch state are internal.
/// </summary>
public sealed class PublicApiTests
{
    private static readonly Assembly Runtime = typeof(LlamaModel).Assembly;

    [Fact]
    public void Public_surface_matches_the_approved_file()
    {
        string approvedPath = Path.Combine(Support.SharedModels.RepoRoot, "tests", "FiRST.Runtime.Tests", "PublicApi", "FiRST.Runtime.approved.txt");
        string actual = Describe(Runtime);
        string receivedPath = Path.ChangeExtension(approvedPath, null).Replace(".approved", ".received") + ".txt";
        if (Environment.GetEnvironmentVariable("FIRST_APPROVE") == "1") File.WriteAllText(approvedPath, actual);
        string approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath) : "";
        if (approved != actual)
        {
            File.WriteAllText(receivedPath, actual);
            Assert.Fail($"the public API changed: compare {receivedPath} with {approvedPath} (FIRST_APPROVE=1 rewrites it)");
        }
        else if (File.Exists(receivedPath)) File.Delete(receivedPath);
    }

    [Fact]
    public void No_kernel_weight_or_scratch_type_is_public()
    {
        string[] internalOnly = ["FiRST.Runtime.Kernels", "FiRST.Runtime.Loading", "FiRST.Runtime.Diagnostics"];
        var leaked = Runtime.GetExportedTypes().Where(t => internalOnly.Contains(t.Namespace)).Select(t => t.FullName).ToArray();
        Assert.Empty(leaked);
        string[] scratch = ["RunState", "BatchState", "WorkerPool", "ParallelJob", "Matrix", "ModelWeights", "LayerWeights"];
        Assert.DoesNotContain(Runtime.GetExportedTypes(), t => scratch.Contains(t.Name));
    }

    [Fact]
    public void The_description_sees_a_new_public_member()
    {
        // The snapshot can fail: a type the description walks shows its members, and a type it would miss
        // (this test assembly's own public type) changes the text when added.
        string withTests = Describe(typeof(PublicApiTests).Assembly);
        Assert.Contains("Public_surface_matches_the_approved_file()", withTests);
        Assert.Contains("class FiRST.Runtime.LlamaModel", Describe(Runtime));
        Assert.DoesNotContain("WorkerPool", Describe(Runtime));
    }

    /// <summary>One line per public type and member, sorted, with full signatures.</summary>
    internal static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            lines.Add($"{Kind(type)} {Name(type)}{Bases(type)}");
            const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            var members = new List<string>();
            foreach (var m in type.GetMembers(flags))
            {
                string? d = Member(m);
                if (d is not null) members.Add("  " + d);
            }
            members.Sort(StringComparer.Ordinal);
            lines.AddRange(members);
        }
        return string.Join("\n", lines) + "\n";
    }

    private static string Kind(Type t) =>
        t.IsInterface ? "interface" : t.IsEnum ? "enum" : t.IsValueType ? "struct" : t.IsAbstract && t.IsSealed ? "static class" : t.IsAbstract ? "abstract class" : t.IsSealed ? "sealed class" : "class";

    private static string Bases(Type t)
    {
        var bases = new List<string>();
        if (t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum)) bases.Add(Name(b));
        bases.AddRange(t.GetInterfaces().Select(Name).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    private static bool Visible(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);

    private static string? Member(MemberInfo m) => m switch
    {
        ConstructorInfo c when Visible(c) => $"ctor({Parameters(c)})",
        MethodInfo mi when Visible(mi) && !mi.IsSpecialName => $"{(mi.IsStatic ? "static " : "")}{Name(mi.ReturnType)} {mi.Name}{Generic(mi)}({Parameters(mi)})",
        PropertyInfo p when Visible(p.GetMethod) || Visible(p.SetMethod) =>
            $"{(p.GetMethod?.IsStatic == true ? "static " : "")}{Name(p.PropertyType)} {p.Name}{(p.GetIndexParameters() is { Length: > 0 } ip ? "[" + string.Join(", ", ip.Select(x => Name(x.ParameterType))) + "]" : "")} {{{(Visible(p.GetMethod) ? " get;" : "")}{(Visible(p.SetMethod) ? (p.SetMethod!.ReturnParameter.GetRequiredCustomModifiers().Any(x => x.Name == "IsExternalInit") ? " init;" : " set;") : "")} }}",
        FieldInfo f when f.IsPublic || f.IsFamily => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{Name(f.FieldType)} {f.Name}{(f.IsLiteral ? " = " + f.GetRawConstantValue() : "")}",
        EventInfo e when Visible(e.AddMethod) => $"event {Name(e.EventHandlerType!)} {e.Name}",
        Type nested when nested.IsNestedPublic => null, // listed as its own type
        _ => null,
    };

    private static string Generic(MethodInfo m) => m.IsGenericMethod ? "<" + string.Join(", ", m.GetGenericArguments().Select(Name)) + ">" : "";

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "")}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type t)
    {
        if (t.IsByRef) return Name(t.GetElementType()!);
        if (t.IsArray) return Name(t.GetElementType()!) + "[]";
        if (t.IsGenericParameter) return t.Name;
        if (Nullable.GetUnderlyingType(t) is { } u) return Name(u) + "?";
        string name = (t.IsNested ? Name(t.DeclaringType!) + "." + t.Name : t.Namespace + "." + t.Name);
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        if (t.IsGenericType) name += "<" + string.Join(", ", t.GetGenericArguments().Select(Name)) + ">";
        return name;
    }
}
