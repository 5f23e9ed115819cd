// The main job as an app. Without arguments: one prompt per demo task, each routed at prefill and decoded on
// the path the dispatcher chose (the generated path for the routed mask), checked against the right answer
// and timed against the full model on the generic loop. With a prompt: that prompt's answer, streamed.
//   dotnet run -c Release --project samples/FiRST.Demo
//   dotnet run -c Release --project samples/FiRST.Demo -- "reverse hello =>"
using FiRST.Demo;
using FiRST.Runtime;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;

string demoDir = Path.Combine(FindRepositoryRoot() ?? Directory.GetCurrentDirectory(), "models", "demo");
if (!File.Exists(Path.Combine(demoDir, "model.bin")))
{
    Console.Error.WriteLine($"The demo model is missing: {Path.Combine(demoDir, "model.bin")}");
    return 1;
}

var tokenizer = TextTokenizer.Load(Path.Combine(demoDir, "tokenizer.bin"));
// Routed: only the layers some task keeps are loaded (the generated manifest); the routers choose a mask at
// prefill and the dispatcher decodes on the generated path compiled for it. One thread, so times compare.
using var routedModel = LlamaModel.Load(Path.Combine(demoDir, "model.bin"), DemoModel.LoadOptions());
var routed = new TextGenerator(routedModel, tokenizer, new SessionOptions
{
    Threads = 1,
    Routers = RouterSet.Load(Path.Combine(demoDir, "model.routers.bin")),
    Paths = DemoModel.Paths,
});
var greedy = new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] };

if (args.Length > 0)
{
    string prompt = string.Join(' ', args);
    var run = routed.Generate(prompt, greedy);
    Console.Write(prompt); // the answer starts with its own space
    foreach (string text in run.Text()) Console.Write(text);
    Console.WriteLine();
    Console.WriteLine($"path {run.Stats.DecodePath} ({run.Stats.PathReason}), layers {run.Stats.Mask}, {run.Stats.MsPerToken:F3} ms/token");
    return 0;
}

// The full model: every layer, no routers, the generic loop.
using var fullModel = LlamaModel.Load(Path.Combine(demoDir, "model.bin"));
var full = new TextGenerator(fullModel, tokenizer, new SessionOptions { Threads = 1 });

string[] prompts = ["copy kqz1 =>", "reverse hello =>", "sort 9 9 1 4 0 =>", "1234+5678="];
// An answer is 4 to 10 tokens: warm both up (the first runs compile the code), then keep the median of several.
const int Runs = 7;
foreach (string prompt in prompts) { Complete(routed, prompt); Complete(full, prompt); }
Console.WriteLine($"{"prompt",-18} {"answer",-10} {"correct",-8} {"path",-22} {"layers",-9} {"kept",-5} {"ms/token path",14} {"ms/token full",14} {"speedup",8}");
bool allCorrect = true;
foreach (string prompt in prompts)
{
    // Alternating, so a burst of load on the machine falls on both alike.
    var pairs = Enumerable.Range(0, Runs).Select(_ => (Path: Complete(routed, prompt), Full: Complete(full, prompt))).ToArray();
    var (answer, stats) = pairs[0].Path;
    double pathMs = Median(pairs.Select(p => p.Path.Stats.MsPerToken));
    double fullMs = Median(pairs.Select(p => p.Full.Stats.MsPerToken));
    bool correct = answer == ExpectedAnswer.For(prompt);
    allCorrect &= correct;
    int kept = stats.Mask.Count(c => c == '1');
    Console.WriteLine($"{prompt,-18} {answer,-10} {(correct ? "yes" : "NO"),-8} {$"{stats.DecodePath} ({stats.PathReason})",-22} {stats.Mask,-9} {$"{kept}/{stats.Mask.Length}",-5} {pathMs,14:F4} {fullMs,14:F4} {fullMs / pathMs,7:F2}x");
}
// Copy and reverse keep the same layers, so one generated path (the first task's) serves that mask.
Console.WriteLine("path: the generated path for the routed mask (Exact); speedup: full model on the generic loop / chosen path");
return allCorrect ? 0 : 2;

(string Answer, GenerationStats Stats) Complete(TextGenerator generator, string prompt)
{
    var run = generator.Generate(prompt, greedy);
    string answer = string.Concat(run.Text()).Trim();
    return (answer, run.Stats);
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted[sorted.Length / 2];
}

// The repository root is the folder holding FiRST.Gen.sln, found upwards from the program or the working folder.
static string? FindRepositoryRoot()
{
    foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FiRST.Gen.sln"))) return dir.FullName;
    return null;
}
