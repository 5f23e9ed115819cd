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

    [Theory]
    [InlineData("copy kqz1 =>", "kqz1")]
    [InlineData("reverse hello =>", "olleh")]
    [InlineData("sort 5 3 9 1 =>", "1 3 5 9")]
    [InlineData("12+34=", "46")]
    public void RoutedPrefillDecodesOnTheGeneratedPathForItsMask(string prompt, string expected)
    {
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        using var routed = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = DemoProfileModel.Paths });

        string answer = Answer(routed, tokenizer, prompt);
        var mask = routed.Mask;
        if (DemoProfileModel.Paths.TryGet(mask, out var compiled))
        {
            Assert.Same(compiled, routed.DecodePath);
            Assert.NotEqual(nameof(MaskedPath), routed.DecodePath.GetType().Name);
        }
        else
        {
            // A mask no task was compiled for falls back to the generic loop.
            Assert.IsType<MaskedPath>(routed.DecodePath);
        }
        Assert.Equal(mask, routed.DecodePath.Mask);
        Assert.Equal(expected, answer);

        // The generic loop over the same mask gives the same answer.
        using var generic = model.CreateSession(new SessionOptions { Threads = 1, Mask = mask });
        Assert.Equal(answer, Answer(generic, tokenizer, prompt));
        using var full = model.CreateSession(new SessionOptions { Threads = 1 });
        Assert.Equal((long)mask.KeptCount * 2 * model.Config.KvDim * model.Config.MaxSeqLen * sizeof(float), routed.KvBytes);
        Assert.True(routed.KvBytes < full.KvBytes);
    }

    [Fact]
    public void MostRoutedPromptsDecodeOnTheirTasksGeneratedPath()
    {
        // The profile's masks are the routers' commonest per task, so ordinary prompts hit a compiled path.
        string[] prompts =
        [
            "copy kqz1 =>", "copy hello =>", "copy abc123 =>", "copy zzq =>", "reverse hello =>", "reverse abcdef =>",
            "sort 5 3 9 1 =>", "sort 2 8 1 =>", "sort 9 9 1 4 0 =>", "12+34=", "905+96=", "7+458=",
        ];
        using var model = LlamaModel.Load(Path.Combine(Dir, "model.bin"));
        var tokenizer = TextTokenizer.Load(Path.Combine(Dir, "tokenizer.bin"));
        var routers = RouterSet.Load(Path.Combine(Dir, "model.routers.bin"));
        using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = routers, Paths = DemoProfileModel.Paths });
        int generated = 0;
        foreach (string prompt in prompts)
        {
            session.Reset();
            session.Prefill(tokenizer.Encode(prompt));
            if (session.DecodePath is not MaskedPath) generated++;
        }
        Assert.True(generated >= prompts.Length * 3 / 4, $"{generated} of {prompts.Length} routed prompts found a generated path");
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
        // Reverse shares copy's mask: the table holds CopyPath for it, the pin still gives ReversePath.
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

    private static string Answer(InferenceSession session, TextTokenizer tokenizer, string prompt)
    {
        var ids = Greedy.Decode(session, tokenizer.Encode(prompt), maxTokens: 12, stopToken: tokenizer.EosId);
        if (ids.Count > 0 && ids[^1] == tokenizer.EosId) ids.RemoveAt(ids.Count - 1);
        return tokenizer.Decode([.. ids]).TrimStart(' ');
    }
}
