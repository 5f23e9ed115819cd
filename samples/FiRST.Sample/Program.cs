// Part 1, the whole FiRST pipeline on the embedded demo model, loaded with the generated manifest: the routers
// choose the layers at prefill, the dispatcher (SessionOptions.Paths = the generated DemoModel.Paths) decodes on
// the generated path for that mask, with the task's calibrated self-speculation plan.
// Part 2 uses the members FiRST.Gen generated for StoriesModel: loads stories260K with the generated load
// options, then for each task creates a session with the task's mask and decodes 16 tokens greedily through
// the task's straight-line path, printing the kept layers, the KV cache size and the tokens.
using FiRST.Runtime;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Paths;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using FiRST.Sample;

string demoDir = Path.Combine(FindRepositoryRoot() ?? Directory.GetCurrentDirectory(), "models", "demo");
if (File.Exists(Path.Combine(demoDir, "model.bin")))
{
    // Only the layers some task uses are loaded (the generated manifest); the routers never keep another.
    using var demo = LlamaModel.Load(Path.Combine(demoDir, "model.bin"), DemoModel.LoadOptions());
    var tokenizer = TextTokenizer.Load(Path.Combine(demoDir, "tokenizer.bin"));
    var options = new SessionOptions
    {
        Threads = 1,
        Routers = RouterSet.Load(Path.Combine(demoDir, "model.routers.bin")),
        Paths = DemoModel.Paths,
        SpeculateAsCalibrated = true, // each task path's calibrated self-speculation plan
    };
    var generator = new TextGenerator(demo, tokenizer, options);
    foreach (string prompt in new[] { "copy kqz1 =>", "reverse hello =>", "sort 5 3 9 1 =>", "1234+5678=" })
    {
        // Prefill routes the prompt; every later token decodes on the path the dispatcher chose.
        var run = generator.Generate(prompt, new GenerationOptions { Sampling = new() { Temperature = 0 }, StopTokens = [tokenizer.EosId] });
        string answer = string.Concat(run.Text()).Trim();
        var s = run.Stats;
        Console.WriteLine($"{prompt,-18}{answer,-10} layers {s.Mask}  path {s.DecodePath} ({s.PathReason})  speculation {s.Speculation?.ToString() ?? "-"}, {s.AcceptanceRate:P0} accepted  KV {s.KvBytes:N0} bytes");
    }
}

string modelPath = args.Length > 0
    ? args[0]
    : Path.Combine(FindRepositoryRoot() ?? Directory.GetCurrentDirectory(), "..", "shared", "models", "stories260K.bin");
if (!File.Exists(modelPath))
{
    Console.WriteLine($"Model file not found: {Path.GetFullPath(modelPath)}");
    Console.WriteLine("Put stories260K.bin in ../shared/models/ next to the repository (or pass its path); nothing to run.");
    return 0;
}

using var model = LlamaModel.Load(modelPath, StoriesModel.LoadOptions());
if (model.Config != StoriesModel.Config)
{
    Console.Error.WriteLine($"{modelPath} does not match the profile: {model.Config} vs {StoriesModel.Config}");
    return 1;
}
Console.WriteLine($"{Path.GetFileName(modelPath)}: dim {StoriesModel.Dim}, {StoriesModel.NLayers} layers, {StoriesModel.NHeads} heads ({StoriesModel.NKvHeads} KV), vocab {StoriesModel.VocabSize}");
Console.WriteLine($"loaded layers (union of the tasks' kept layers): [{string.Join(", ", StoriesModel.UsedLayers)}]; {StoriesModel.Paths.Count} paths in the table");

// The generated path classes, each with its own CreateSession and compile-time constants.
var tasks = new (StoriesModel.Task Task, IDecodePath Path, Func<LlamaModel, InferenceSession> CreateSession, long KvCacheBytes)[]
{
    (StoriesModel.Task.Copy, StoriesModel.CopyPath.Instance, m => StoriesModel.CopyPath.Instance.CreateSession(m), StoriesModel.CopyPath.KvCacheBytes),
    (StoriesModel.Task.Reverse, StoriesModel.ReversePath.Instance, m => StoriesModel.ReversePath.Instance.CreateSession(m), StoriesModel.ReversePath.KvCacheBytes),
    (StoriesModel.Task.Chat, StoriesModel.ChatPath.Instance, m => StoriesModel.ChatPath.Instance.CreateSession(m), StoriesModel.ChatPath.KvCacheBytes),
};

const int Steps = 16;
const int Bos = 1;
foreach (var (task, path, createSession, kvCacheBytes) in tasks)
{
    if (!ReferenceEquals(StoriesModel.PathFor(task), path)) throw new InvalidOperationException($"PathFor({task}) is not its path class");
    using var session = createSession(model);
    var generated = new List<int>(Steps);
    int token = Bos;
    for (int step = 0; step < Steps; step++)
    {
        token = Greedy.ArgMax(session.Forward(token, path));
        generated.Add(token);
    }
    string kvCheck = session.KvBytes == kvCacheBytes ? "matches" : "DIFFERS from";
    Console.WriteLine($"{task,-8} kept [{string.Join(", ", path.Mask.KeptLayers.ToArray())}]  KV {session.KvBytes:N0} bytes ({kvCheck} the generated KvCacheBytes {kvCacheBytes:N0})");
    Console.WriteLine($"{"",-8} tokens: {string.Join(" ", generated)}");
}
return 0;

// The repository root is the folder holding FiRST.Gen.sln, found upwards from the program or the working folder.
static string? FindRepositoryRoot()
{
    foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FiRST.Gen.sln"))) return dir.FullName;
    return null;
}
