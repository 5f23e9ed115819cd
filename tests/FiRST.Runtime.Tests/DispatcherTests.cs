using FiRST.Runtime.Generation;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>The generator's output for the embedded model's calibrated profile, compiled into this assembly.</summary>
[FiRST.FiRSTModel("demo/model.first.json")]
public partial class DemoProfileModel;

/// <summary>
/// The whole FiRST pipeline on the embedded model: routed prefill chooses a mask, the dispatcher decodes on
/// the generated path compiled for it (or on the generic loop for a mask no task has), and the answer is the
/// one the generic masked loop gives.
/// </summary>
public sealed class DispatcherTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "demo");

    // The expected paths follow from the shipped routers (models/demo/model.routers.bin, trained to the
    // profile's masks) and the profile's masks: the routers keep a layer whose probability reaches the threshold
    // (0.5), and the table holds one generated path per mask (Copy 11111000, shared with Sort; Reverse 11111010;
    // Add4 11110000). Each of these prompts routes to its task's mask, so it decodes on the table's entry for it.
    [Theory]
    [InlineData("copy kqz1 =>", "kqz1", "CopyPath")]
    [InlineData("reverse hello =>", "olleh", "ReversePath")]
    [InlineData("sort 5 3 9 1 =>", "1 3 5 9", "CopyPath")]
    [InlineData("12+34=", "46", "Add4Path")]
    public void RoutedPrefillDecodesOnTheGeneratedPathForItsMask(string prompt, string expected, string expectedPath)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        using var routed = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = DemoProfileModel.Paths });

        string answer = Answer(routed, tokenizer, prompt);
        var mask = routed.Mask;
        Assert.True(DemoProfileModel.Paths.TryGet(mask, out var compiled), $"{prompt}: the routers chose {mask}, which no task was compiled for");
        Assert.Same(compiled, routed.DecodePath);
        Assert.Equal(expectedPath, routed.DecodePath.GetType().Name);
        Assert.Equal(mask, routed.DecodePath.Mask);
        Assert.Equal(expected, answer);

        // The generic loop over the same mask gives the same answer.
        using var generic = model.CreateSession(new SessionOptions { Threads = 1, Mask = mask });
        Assert.IsType<MaskedPath>(generic.DecodePath);
        Assert.Equal(answer, Answer(generic, tokenizer, prompt));
        using var full = model.CreateSession(new SessionOptions { Threads = 1 });
        Assert.Equal((long)mask.KeptCount * 2 * model.Config.KvDim * model.Config.MaxSeqLen * sizeof(float), routed.KvBytes);
        Assert.True(routed.KvBytes < full.KvBytes);
    }

    [Theory]
    [InlineData("copy kqz1 =>", "11111000", "CopyPath")]
    [InlineData("copy hello =>", "11111000", "CopyPath")]
    [InlineData("copy abc123 =>", "11111000", "CopyPath")]
    [InlineData("copy dotnet =>", "11111000", "CopyPath")]
    [InlineData("reverse dotnet =>", "11111010", "ReversePath")]
    [InlineData("sort 2 8 1 =>", "11111000", "CopyPath")]
    [InlineData("sort 9 9 1 4 0 =>", "11111000", "CopyPath")]
    [InlineData("50+50=", "11110000", "Add4Path")]
    [InlineData("905+96=", "11110000", "Add4Path")]
    [InlineData("7+458=", "11110000", "Add4Path")]
    [InlineData("1234+5678=", "11110000", "Add4Path")]
    public void EachRoutedPromptDecodesOnThePathForTheMaskItsRoutersChoose(string prompt, string expectedMask, string expectedPath)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = DemoProfileModel.Paths });
        session.Prefill(tokenizer.Encode(prompt));
        var decision = session.Routing!;
        // The mask is the routers' probabilities against the threshold...
        Assert.Equal(expectedMask, session.Mask.ToString());
        for (int l = 0; l < decision.Probabilities.Count; l++)
            Assert.Equal(decision.Probabilities[l] >= decision.Threshold, session.Mask.IsKept(l));
        // ...and the dispatcher takes the generated path compiled for that mask, never the generic loop.
        Assert.Equal(expectedPath, session.DecodePath.GetType().Name);
        Assert.True(DemoProfileModel.Paths.TryGet(session.Mask, out var compiled));
        Assert.Same(compiled, session.DecodePath);
    }

    [Theory]
    [InlineData("12+34=", "46")]
    [InlineData("905+96=", "1001")]
    [InlineData("1234+5678=", "6912")]
    public void A_routed_mask_the_table_has_no_path_for_decodes_on_the_generic_loop_under_the_exact_policy(string prompt, string expected)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        // A table without addition's path (11110000), which the routers choose for these prompts (layer 4 at 0.17 to
        // 0.25): copy's (11111000, shared with sort), reverse's (11111010) and the full path.
        var table = new DecodePathTable([DemoProfileModel.FullPath.Instance, DemoProfileModel.PathFor(DemoProfileModel.Task.Copy), DemoProfileModel.PathFor(DemoProfileModel.Task.Reverse)]);
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = table, Policy = Decoding.PathPolicy.Exact });
        Assert.Equal(expected, Answer(session, tokenizer, prompt));
        Assert.Equal("11110000", session.Mask.ToString());
        Assert.False(table.TryGet(session.Mask, out _));
        Assert.IsType<MaskedPath>(session.DecodePath);
        Assert.Equal(Decoding.PathReason.Dynamic, session.PathReason);

        // Under the default policy the same mask takes the smallest generated path that keeps its layers: copy's
        // five, not reverse's six.
        using var superset = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = table });
        Assert.Equal(expected, Answer(superset, tokenizer, prompt));
        Assert.Equal("11110000", superset.Routing!.Mask.ToString());
        Assert.Equal(5, superset.Mask.KeptCount);
        Assert.All(new[] { 0, 1, 2, 3 }, l => Assert.True(superset.Mask.IsKept(l)));
        Assert.Equal("CopyPath", superset.DecodePath.GetType().Name);
        Assert.Equal(Decoding.PathReason.Superset, superset.PathReason);

        // At threshold 0 every layer is kept, and the table's entry for that is the generated FullPath.
        using var all = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = 0, Paths = DemoProfileModel.Paths });
        all.Prefill(tokenizer.Encode(prompt));
        Assert.Equal(LayerMask.All(model.Config.NLayers), all.Mask);
        Assert.Equal("FullPath", all.DecodePath.GetType().Name);
        Assert.Equal(Decoding.PathReason.Exact, all.PathReason);
    }

    [Theory]
    [InlineData(DemoProfileModel.Task.Copy, "copy kqz1 =>", "kqz1")]
    [InlineData(DemoProfileModel.Task.Reverse, "reverse hello =>", "olleh")]
    [InlineData(DemoProfileModel.Task.Sort, "sort 5 3 9 1 =>", "1 3 5 9")]
    [InlineData(DemoProfileModel.Task.Add4, "1234+5678=", "6912")]
    public void A_session_pinned_to_a_task_decodes_on_that_tasks_path(DemoProfileModel.Task task, string prompt, string expected)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var path = DemoProfileModel.PathFor(task);
        // Sort shares copy's mask: the table holds CopyPath for it, the pin still gives SortPath.
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Path = path, Paths = DemoProfileModel.Paths });
        Assert.Same(path, session.DecodePath);
        Assert.Equal(path.Mask, session.Mask);
        Assert.Equal(expected, Answer(session, tokenizer, prompt));
        Assert.Same(path, session.DecodePath);

        var run = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Path = path })
            .Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] });
        _ = run.ToList();
        Assert.Equal(path.GetType().Name, run.Stats.DecodePath);
        Assert.Equal($"{task}Path", run.Stats.DecodePath);
    }

    [Fact]
    public void A_session_pinned_by_task_name_decodes_on_that_tasks_path()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        // Add4 shares sort's mask; by name it still gets its own path.
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Task = "Add4", Paths = DemoProfileModel.Paths });
        Assert.Same(DemoProfileModel.PathFor(DemoProfileModel.Task.Add4), session.DecodePath);
        Assert.Equal(Decoding.PathReason.Pinned, session.PathReason);
        Assert.Equal("6912", Answer(session, tokenizer, "1234+5678="));

        var unknown = Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Task = "translate", Paths = DemoProfileModel.Paths }));
        Assert.Contains("no task 'translate'", unknown.Message);
        Assert.Contains("copy, reverse, sort, add4", unknown.Message);
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Task = "copy" }));
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Task = "copy", Paths = DemoProfileModel.Paths, Mask = LayerMask.All(8) }));
    }

    [Fact]
    public void A_pinned_path_excludes_a_mask_or_routers_and_the_generic_loop_is_named_generic()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var path = DemoProfileModel.PathFor(DemoProfileModel.Task.Copy);
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Path = path, Mask = path.Mask }));
        Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions { Path = path, Routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin")) }));

        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var run = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1 })
            .Generate("copy abc =>", new GenerationOptions { Sampling = new() { Temperature = 0 }, MaxNewTokens = 2 });
        _ = run.ToList();
        Assert.Equal("generic", run.Stats.DecodePath);
    }

    /// <summary>
    /// A threshold above the default that makes the routers keep fewer layers than copy's path: at 0.999 they keep
    /// 11110000 (add4's mask, whose path the tables below leave out) for <c>12+34=</c> (layer 4 at 0.25) and for
    /// <c>sort 2 8 1 =&gt;</c> (layer 4 at 0.998, which the default threshold keeps: sort's mask is copy's).
    /// </summary>
    private const float StrictThreshold = 0.999f;

    [Theory]
    [InlineData("12+34=", "46")]            // routes to 11110000
    [InlineData("sort 2 8 1 =>", "1 2 8")]  // routes to 11110000
    public void A_routed_mask_without_its_path_takes_the_smallest_compiled_superset(string prompt, string expected)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        // Only copy's path (11111000) and the full path: the routed mask has no exact path, copy's keeps it all.
        var table = new DecodePathTable([DemoProfileModel.FullPath.Instance, DemoProfileModel.PathFor(DemoProfileModel.Task.Copy)]);
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = StrictThreshold, Paths = table });
        string answer = Answer(session, tokenizer, prompt);
        var routed = session.Routing!.Mask;
        Assert.False(table.TryGet(routed, out _));
        Assert.Equal(Decoding.PathReason.Superset, session.PathReason);
        Assert.Same(DemoProfileModel.PathFor(DemoProfileModel.Task.Copy), session.DecodePath);
        Assert.Equal("11111000", session.Mask.ToString());
        Assert.All(routed.KeptLayers.ToArray(), l => Assert.True(session.Mask.IsKept(l)));
        Assert.Equal(expected, answer);
        // The superset's extra layers were prefilled: the session equals a plain session on copy's mask.
        using var plain = model.CreateSession(new SessionOptions { Threads = 1, Mask = session.Mask });
        Assert.Equal(answer, Answer(plain, tokenizer, prompt));
        Assert.Equal(5L * 2 * model.Config.KvDim * model.Config.MaxSeqLen * sizeof(float), session.KvBytes);

        var run = new TextGenerator(model, tokenizer, new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = StrictThreshold, Paths = table })
            .Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] });
        _ = run.ToList();
        Assert.Equal(Decoding.PathReason.Superset, run.Stats.PathReason);
        Assert.Equal("CopyPath", run.Stats.DecodePath);
    }

    [Fact]
    public void Speculation_on_a_superset_path_splits_the_supersets_layers()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        var table = new DecodePathTable([DemoProfileModel.FullPath.Instance, DemoProfileModel.PathFor(DemoProfileModel.Task.Copy)]);
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = StrictThreshold, Paths = table, Speculation = new(2, 3) });
        var ids = tokenizer.Encode("12+34=");
        int next = Kernels.Ops.ArgMax(session.Prefill(ids));
        Assert.Equal(Decoding.PathReason.Superset, session.PathReason);
        // The draft and verify halves cover copy's five layers, not the four the routers kept.
        Assert.Equal(5, session.SpeculationState!.Layers);
        var output = new int[8];
        var sampler = new Sampler(model.Config.VocabSize, new SamplerOptions { Temperature = 0 });
        var tokens = new List<int> { next };
        while (tokens[^1] != tokenizer.EosId && session.Remaining > 2)
        {
            int n = session.Speculate(tokens[^1], sampler, output);
            tokens.AddRange(output.Take(n));
        }
        // The same tokens as a plain session on copy's mask.
        using var plain = model.CreateSession(new SessionOptions { Threads = 1, Mask = session.Mask });
        var expected = Greedy.Decode(plain, ids, maxTokens: tokens.Count, stopToken: tokenizer.EosId);
        Assert.Equal(expected, tokens.Take(expected.Count).ToList());
    }

    [Fact]
    public void The_policy_decides_what_a_miss_runs_and_dynamic_never_takes_a_compiled_path()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        // Only sort's path (11111000, copy's mask) and the full path: the routed 11110000 has no exact path.
        var table = new DecodePathTable([DemoProfileModel.FullPath.Instance, DemoProfileModel.PathFor(DemoProfileModel.Task.Sort)]);
        using var exact = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = table, Policy = Decoding.PathPolicy.Exact });
        Assert.Equal("46", Answer(exact, tokenizer, "12+34="));
        Assert.Equal("11110000", exact.Mask.ToString());
        Assert.IsType<MaskedPath>(exact.DecodePath);
        Assert.Equal(Decoding.PathReason.Dynamic, exact.PathReason);

        using var dynamic = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = DemoProfileModel.Paths, Policy = Decoding.PathPolicy.Dynamic });
        Assert.Equal("46", Answer(dynamic, tokenizer, "12+34="));
        Assert.True(DemoProfileModel.Paths.TryGet(dynamic.Mask, out _));
        Assert.IsType<MaskedPath>(dynamic.DecodePath);
        Assert.Equal(Decoding.PathReason.Dynamic, dynamic.PathReason);

        using var routed = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = DemoProfileModel.Paths });
        routed.Prefill(tokenizer.Encode("12+34="));
        Assert.Equal(Decoding.PathReason.Exact, routed.PathReason);
    }

    [Fact]
    public void Only_paths_whose_layers_are_loaded_are_superset_candidates()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        // The full path needs layers 5 and 7, which the manifest did not load: never a candidate.
        using var fullOnly = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = StrictThreshold, Paths = new DecodePathTable([DemoProfileModel.FullPath.Instance]) });
        Assert.Equal("46", Answer(fullOnly, tokenizer, "12+34="));
        Assert.Equal(Decoding.PathReason.Dynamic, fullOnly.PathReason);
        Assert.IsType<MaskedPath>(fullOnly.DecodePath);

        using var withCopy = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, RouterThreshold = StrictThreshold, Paths = new DecodePathTable([DemoProfileModel.FullPath.Instance, DemoProfileModel.PathFor(DemoProfileModel.Task.Copy)]) });
        Assert.Equal("46", Answer(withCopy, tokenizer, "12+34="));
        Assert.Equal(Decoding.PathReason.Superset, withCopy.PathReason);
        Assert.Equal("CopyPath", withCopy.DecodePath.GetType().Name);
    }

    private static string Answer(InferenceSession session, TextTokenizer tokenizer, string prompt)
    {
        var ids = Greedy.Decode(session, tokenizer.Encode(prompt), maxTokens: 12, stopToken: tokenizer.EosId);
        if (ids.Count > 0 && ids[^1] == tokenizer.EosId) ids.RemoveAt(ids.Count - 1);
        return tokenizer.Decode([.. ids]).TrimStart(' ');
    }
}

/// <summary>
/// What a user app does with the generated manifest: load only the layers the profile's tasks use
/// (<c>LoadOptions()</c>), route with the routers and decode on the generated paths. Routing is bounded by the
/// loaded layers: it used to fail in <c>CreateSession</c>, because a routed session started from the full mask.
/// </summary>
public sealed class ManifestRoutingTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "demo");

    [Theory]
    [InlineData("copy kqz1 =>", "kqz1")]
    [InlineData("reverse hello =>", "olleh")]
    [InlineData("sort 5 3 9 1 =>", "1 3 5 9")]
    [InlineData("905+96=", "1001")]
    [InlineData("1234+5678=", "6912")]
    public void ARoutedSessionOnAManifestLoadedModelDecodesOnTheGeneratedPath(string prompt, string expected)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var unloaded = Enumerable.Range(0, model.Config.NLayers).Where(l => !model.IsLayerLoaded(l)).ToArray();
        Assert.NotEmpty(unloaded); // the manifest leaves layers out, or this test proves nothing
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        using var session = model.CreateSession(new SessionOptions { Threads = 2, Routers = routers, Paths = DemoProfileModel.Paths });

        var ids = Greedy.Decode(session, tokenizer.Encode(prompt), maxTokens: 12, stopToken: tokenizer.EosId);
        Assert.Equal(expected, tokenizer.Decode(ids.ToArray()).Trim());
        Assert.All(unloaded, l => Assert.False(session.Mask.IsKept(l), $"the routers kept layer {l}, which is not loaded"));
        Assert.True(DemoProfileModel.Paths.TryGet(session.Mask, out var compiled), $"{prompt}: mask {session.Mask} has no generated path");
        Assert.Same(compiled, session.DecodePath);
    }

    [Theory]
    [InlineData("copy kqz1 =>", "kqz1", "CopyPath")]
    [InlineData("reverse hello =>", "olleh", "ReversePath")]
    [InlineData("1234+5678=", "6912", "Add4Path")]
    public void TheReadmeExampleRoutesDecodesOnTheGeneratedPathAndSpeculatesAsCalibrated(string prompt, string expected, string expectedPath)
    {
        // The README's example, line for line (Demo is DemoProfileModel here).
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var options = new SessionOptions
        {
            Routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin")),
            Paths = DemoProfileModel.Paths,
            SpeculateAsCalibrated = true,
        };
        var generator = new TextGenerator(model, tokenizer, options);
        var run = generator.Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] });
        Assert.Equal(expected, string.Concat(run.Text()).Trim());
        Assert.Equal(expectedPath, run.Stats.DecodePath);
        Assert.Equal(Decoding.PathReason.Exact, run.Stats.PathReason);
        // Routed to its task's path, a prompt drafts as that path was calibrated: addition's has no plan (none beat
        // plain decoding on it), copy's and reverse's have one.
        if (expectedPath == "Add4Path")
        {
            Assert.Null(run.Stats.Speculation);
            Assert.Equal(0, run.Stats.DraftedTokens);
        }
        else
        {
            Assert.NotNull(run.Stats.Speculation);
            Assert.True(run.Stats.DraftedTokens > 0);
        }

        // Pinned to its task, the same options draft as calibrated too (reverse 5:8; addition none).
        if (prompt.StartsWith("copy", StringComparison.Ordinal)) return;
        string task = prompt.StartsWith("reverse", StringComparison.Ordinal) ? "reverse" : "add4";
        var pinned = new TextGenerator(model, tokenizer, new SessionOptions { Task = task, Paths = DemoProfileModel.Paths, SpeculateAsCalibrated = true })
            .Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] });
        Assert.Equal(expected, string.Concat(pinned.Text()).Trim());
        Assert.Equal(task == "reverse" ? "ReversePath" : "Add4Path", pinned.Stats.DecodePath);
        Assert.Equal(task == "reverse", pinned.Stats.Speculation is not null);
        Assert.Equal(task == "reverse", pinned.Stats.DraftedTokens > 0);
    }

    [Fact]
    public void AFullModelSessionOnAManifestLoadedModelIsAClearError()
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"), DemoProfileModel.LoadOptions());
        var error = Assert.Throws<ArgumentException>(() => model.CreateSession(new SessionOptions()));
        Assert.Contains("which this model instance did not load", error.Message);
    }
}
