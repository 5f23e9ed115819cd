using FiRST.Runtime.Kernels;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Routing;
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
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "DefaultModel");

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

    private static string Answer(InferenceSession session, TextTokenizer tokenizer, string prompt)
    {
        int next = Ops.ArgMax(session.Prefill(tokenizer.Encode(prompt)));
        var ids = new List<int>();
        while (next != tokenizer.EosId && ids.Count < 12)
        {
            ids.Add(next);
            next = Ops.ArgMax(session.Forward(next));
        }
        return tokenizer.Decode([.. ids]).TrimStart(' ');
    }
}
