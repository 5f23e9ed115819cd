using System.Reflection;
using FiRST.Runtime;
using FiRST.Runtime.Decoding;
using FiRST.Runtime.Paths;
using Microsoft.CodeAnalysis;
using Shouldly;
using Xunit;

namespace FiRST.Gen.Tests;

/// <summary>
/// Generated code compiled, loaded and run against the real runtime types: the static initialisers (masks,
/// path table) succeed and the members say what the profile says.
/// </summary>
public sealed class GeneratedCodeTests
{
    private static Type Load(string json, string className = "StoriesModel", string? task = null)
    {
        string source = TestHelpers.ModelClass(className, "m.first.json");
        if (task != null) source = source.Replace("(\"m.first.json\")", $"(\"m.first.json\", Task = \"{task}\")");
        var run = TestHelpers.RunAndCompile(source, new InMemoryAdditionalText("/p/m.first.json", json));
        using var stream = new MemoryStream();
        var emit = run.Output.Emit(stream);
        emit.Success.ShouldBeTrue(string.Join("\n", emit.Diagnostics));
        return Assembly.Load(stream.ToArray()).GetType("Demo." + className, throwOnError: true)!;
    }

    private static T Static<T>(Type type, string name) =>
        (T)(type.GetProperty(name)?.GetValue(null) ?? type.GetField(name)!.GetValue(null))!;

    private static IDecodePath PathFor(Type type, string task)
    {
        var taskEnum = type.GetNestedType("Task")!;
        return (IDecodePath)type.GetMethod("PathFor")!.Invoke(null, [Enum.Parse(taskEnum, task)])!;
    }

    [Fact]
    public void Stories_profile_members_match_the_profile()
    {
        var type = Load(TestHelpers.Input("stories260K.first.json"));

        Static<ModelConfig>(type, "Config").ShouldBe(new ModelConfig
        {
            Dim = 64, HiddenDim = 172, NLayers = 5, NHeads = 8, NKvHeads = 4, VocabSize = 512, MaxSeqLen = 512,
            NormEps = 1e-5f, RopeTheta = 10000f, SharedClassifier = true,
        });
        Static<IReadOnlyList<int>>(type, "UsedLayers").ShouldBe([0, 1, 2, 3, 4]);
        PathFor(type, "Copy").Mask.ToString().ShouldBe("11101");
        PathFor(type, "Reverse").Mask.ToString().ShouldBe("10101");
        PathFor(type, "Chat").Mask.ToString().ShouldBe("11111");
        // 'chat' keeps every layer, so FullPath shares its table entry.
        var table = Static<DecodePathTable>(type, "Paths");
        table.Count.ShouldBe(3);
        table.Resolve(LayerMask.All(5)).ShouldBeSameAs(PathFor(type, "Chat"));
        var full = (IDecodePath)type.GetNestedType("FullPath")!.GetProperty("Instance")!.GetValue(null)!;
        full.Mask.ShouldBe(LayerMask.All(5));
        ((long)type.GetNestedType("ReversePath")!.GetField("KvCacheBytes")!.GetValue(null)!).ShouldBe(3L * 2 * 32 * 512 * 4);
    }

    /// <summary>Llama 3.2 1B's configuration as the runtime reads it from the model's config.json.</summary>
    private static readonly ModelConfig Llama32 = new()
    {
        Dim = 2048, HiddenDim = 8192, NLayers = 16, NHeads = 32, NKvHeads = 8, VocabSize = 128256, MaxSeqLen = 131072,
        NormEps = 1e-5f, RopeTheta = 500000f, RopeScaling = RopeScaling.Llama3(32, 1, 4, 8192), SharedClassifier = true,
    };

    [Theory]
    [InlineData("llama3.2-1b.first.json")]
    [InlineData("llama3.2-1b.config.json")] // transformers 5 layout: rope_parameters
    public void A_llama3_model_compiles_with_its_rope_scaling_in_Config(string input)
    {
        var type = Load(TestHelpers.Input(input), className: "Llama3Model");
        // Equal to what LlamaModel.Load reads, or the runtime would refuse the generated paths for this model.
        Static<ModelConfig>(type, "Config").ShouldBe(Llama32);
        Static<double>(type, "RopeScalingFactor").ShouldBe(32);
        Static<int>(type, "RopeOriginalMaxPositionEmbeddings").ShouldBe(8192);
        Static<RopeScalingType>(type, "RopeScalingType").ShouldBe(RopeScalingType.Llama3);
        // 16 layers x keys and values x 512 x 131072 positions x 4 bytes = 4 GiB: past int, so a long constant.
        ((long)type.GetNestedType("FullPath")!.GetField("KvCacheBytes")!.GetValue(null)!).ShouldBe(16L * 2 * 512 * 131072 * 4);
        // Unscaled models have none of the scaling constants.
        Load(TestHelpers.Input("stories260K.first.json")).GetField("RopeScalingFactor").ShouldBeNull();
    }

    [Fact]
    public void A_one_task_build_has_that_task_alone()
    {
        // What 'first export' compiles: [FiRSTModel(path, Task = "reverse")] on the stories profile.
        var type = Load(TestHelpers.Input("stories260K.first.json"), task: "reverse");
        Enum.GetNames(type.GetNestedType("Task")!).ShouldBe(["Reverse"]);
        type.GetNestedType("CopyPath").ShouldBeNull();
        type.GetNestedType("ChatPath").ShouldBeNull();
        PathFor(type, "Reverse").Mask.ToString().ShouldBe("10101");
        // Its manifest is its own: the model loads only the reverse task's three layers.
        Static<IReadOnlyList<int>>(type, "UsedLayers").ShouldBe([0, 2, 4]);
        var options = (ModelLoadOptions)type.GetMethod("LoadOptions")!.Invoke(null, [WeightFormat.AsStored])!;
        options.Layers!.ToString().ShouldBe("10101");
        Static<DecodePathTable>(type, "Paths").ForTask("reverse").ShouldBeSameAs(PathFor(type, "Reverse"));
        Should.Throw<KeyNotFoundException>(() => Static<DecodePathTable>(type, "Paths").ForTask("copy")).Message.ShouldBe("no task 'copy'; the paths have: reverse");
    }

    [Fact]
    public void Tasks_with_the_same_mask_share_one_table_entry()
    {
        var type = Load(Profiles.WithTasks(
            Profiles.Task("\"a\"", "[0, 2]") + ", " + Profiles.Task("\"b\"", "[0, 2]") + ", " + Profiles.Task("\"c\"", "[1]")));

        var table = Static<DecodePathTable>(type, "Paths");
        table.Count.ShouldBe(3); // a (shared with b), c, full
        table.Resolve(PathFor(type, "B").Mask).ShouldBeSameAs(PathFor(type, "A"));
        table.ForTask("b").ShouldBeSameAs(PathFor(type, "B"));
        Static<IReadOnlyList<int>>(type, "UsedLayers").ShouldBe([0, 1, 2]);
        var options = (ModelLoadOptions)type.GetMethod("LoadOptions")!.Invoke(null, [WeightFormat.Q8])!;
        options.Layers!.ToString().ShouldBe("11100");
        options.Format.ShouldBe(WeightFormat.Q8);
    }

    [Fact]
    public void Speculating_task_paths_carry_their_plan_task_and_draft_half()
    {
        var type = Load(TestHelpers.Input("demo-speculative.first.json"), "DemoModel");

        // copy: kept 0, 1, 2, 3, 5 with E = 2, k = 4.
        var copyPath = PathFor(type, "Copy");
        Describe(copyPath).ShouldBe(("copy", "11110100", "2:4", "11000000"));
        var copyType = type.GetNestedType("CopyPath")!;
        ((int)copyType.GetField("DraftLayers")!.GetValue(null)!).ShouldBe(2);
        ((int)copyType.GetField("Lookahead")!.GetValue(null)!).ShouldBe(4);
        Static<IReadOnlyList<int>>(copyType, "VerifyLayers").ShouldBe([2, 3, 5]);
        Static<EarlyExitOptions>(copyType, "EarlyExit").ShouldBe(new EarlyExitOptions([null, null, 0.9f, 0.95f, null, null, null, null]));
        var draft = type.GetNestedType("CopyDraftPath")!.GetProperty("Instance")!.GetValue(null)!;
        copyPath.GetType().GetProperty("Draft")!.GetValue(copyPath).ShouldBeSameAs(draft);

        // reverse: the same mask as copy, its own plan; add4: E = 3 of 6. sort: no plan, thresholds only.
        Describe(PathFor(type, "Reverse")).ShouldBe(("reverse", "11110100", "3:6", "11100000"));
        Static<IReadOnlyList<int>>(type.GetNestedType("ReversePath")!, "VerifyLayers").ShouldBe([3, 5]);
        Describe(PathFor(type, "Add4")).ShouldBe(("add4", "11111100", "3:4", "11100000"));
        Describe(PathFor(type, "Sort")).ShouldBe(("sort", "11110000", null, null));
        type.GetNestedType("SortDraftPath").ShouldBeNull();
        type.GetNestedType("SortPath")!.GetField("DraftLayers").ShouldBeNull();
        Static<EarlyExitOptions>(type.GetNestedType("SortPath")!, "EarlyExit").Thresholds.ShouldBe([null, 0.75f, 0.875f, 1f, null, null, null, null]);
        type.GetNestedType("Add4Path")!.GetProperty("EarlyExit").ShouldBeNull();

        // Every task path is in the table, found by its name; copy, the first of its mask, serves the mask.
        var table = Static<DecodePathTable>(type, "Paths");
        table.Tasks.ShouldBe(["copy", "reverse", "sort", "add4"], ignoreOrder: true);
        table.ForTask("reverse").ShouldBeSameAs(PathFor(type, "Reverse"));
        table.Resolve(copyPath.Mask).ShouldBeSameAs(copyPath);
        table.Count.ShouldBe(4); // copy/reverse, sort, add4, full
        // Draft halves are not table entries: the mask 11000000 has no path of its own.
        table.TryGet(LayerMask.FromKept(8, [0, 1]), out _).ShouldBeFalse();
    }

    /// <summary>What a compiled path says about itself: task, mask, plan (E:k) and its draft half's mask.</summary>
    private static (string? Task, string Mask, string? Plan, string? DraftMask) Describe(IDecodePath path)
    {
        var type = path.GetType();
        var draft = (IDecodePath?)type.GetProperty("Draft")!.GetValue(path);
        return ((string?)type.GetProperty("Task")!.GetValue(path), path.Mask.ToString(),
                type.GetProperty("Speculation")!.GetValue(path)?.ToString(), draft?.Mask.ToString());
    }

    [Fact]
    public void Task_paths_without_a_plan_carry_their_task_name()
    {
        var type = Load(TestHelpers.Input("stories260K.first.json"));
        Describe(PathFor(type, "Copy")).ShouldBe(("copy", "11101", null, null));
        var full = (IDecodePath)type.GetNestedType("FullPath")!.GetProperty("Instance")!.GetValue(null)!;
        Describe(full).ShouldBe((null, "11111", null, null));
    }

    [Fact]
    public void A_profile_without_tasks_loads_every_layer()
    {
        var type = Load(Profiles.WithTasks(""));
        Static<IReadOnlyList<int>>(type, "UsedLayers").ShouldBe([0, 1, 2, 3, 4]);
        Static<DecodePathTable>(type, "Paths").Count.ShouldBe(1);
    }

    [Fact]
    public void Names_become_PascalCase_members()
    {
        var type = Load(Profiles.WithTasks(Profiles.Task("\"four_digit_add\"", "[0]") + ", " + Profiles.Task("\"_2nd\"", "[1]")));
        Enum.GetNames(type.GetNestedType("Task")!).ShouldBe(["FourDigitAdd", "_2nd"]);
        type.GetNestedType("FourDigitAddPath").ShouldNotBeNull();
        type.GetNestedType("_2ndPath").ShouldNotBeNull();
    }

    [Fact]
    public void Classes_in_the_global_namespace_and_internal_or_static_classes_are_supported()
    {
        foreach (string declaration in new[] { "internal partial class M { }", "public static partial class M { }", "partial record M { }" })
        {
            var run = TestHelpers.RunAndCompile(
                "/// <summary>x</summary>\n[FiRST.FiRSTModel(\"m.json\")]\n" + declaration,
                new InMemoryAdditionalText("/p/m.json", TestHelpers.Input("tinyllama-1.1b.config.json")));
            run.Result.GeneratedSources[0].HintName.ShouldBe("M.FiRST.g.cs");
        }
    }

    [Fact]
    public void The_harness_would_catch_missing_documentation()
    {
        // Guards the claim that generated code is fully documented: the test compilation reports CS1591.
        var run = TestHelpers.Run("public class Undocumented { public int X; }");
        run.CompilationProblems.Select(d => d.Id).ShouldContain("CS1591");
    }
}
