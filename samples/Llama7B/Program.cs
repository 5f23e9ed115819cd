// What the generator wrote for Llama 2 7B, read back from the generated members alone: no weights are loaded.
// The task masks in llama-2-7b.first.json are examples (not calibrated on the model), chosen to show each
// kind of generated path. With the weights, Llama2Model.LoadOptions() loads only UsedLayers and
// SessionOptions { Paths = Llama2Model.Paths } lets the dispatcher choose among these paths.
//   dotnet run -c Release --project samples/Llama7B
using FiRST.Runtime.Paths;
using Llama7B;

const int Float32 = sizeof(float);
Console.WriteLine($"Llama 2 7B: dim {Llama2Model.Dim}, {Llama2Model.NLayers} layers, {Llama2Model.NHeads} heads ({Llama2Model.NKvHeads} KV, head size {Llama2Model.HeadSize}), " +
                  $"hidden {Llama2Model.HiddenDim}, vocabulary {Llama2Model.VocabSize}, context {Llama2Model.MaxSeqLen}");
Console.WriteLine($"tasks: {string.Join(", ", Enum.GetNames<Llama2Model.Task>())}; {Llama2Model.Paths.Count} paths in the dispatcher's table");
Console.WriteLine($"layers loaded (the union of the tasks' kept layers): {Layers([.. Llama2Model.UsedLayers])}, {Llama2Model.UsedLayers.Count} of {Llama2Model.NLayers}");

// Float32 bytes one layer reads per token: the attention projections (q and o: dim x dim; k and v: dim x kvDim)
// and the SwiGLU feed-forward (three dim x hidden matrices).
long layerWeightBytes = ((long)Llama2Model.Dim * Llama2Model.Dim * 2 + (long)Llama2Model.Dim * Llama2Model.KvDim * 2
                         + 3L * Llama2Model.Dim * Llama2Model.HiddenDim) * Float32;
// Keys and values of one token in one layer.
long kvBytesPerLayer = 2L * Llama2Model.KvDim * Float32;

// Each generated path class, with the constants it carries (KvCacheBytes: its KV cache at the full context).
var paths = new (string Name, IDecodePath Path, long KvCacheBytes, string Extra)[]
{
    ("summarize", Llama2Model.SummarizePath.Instance, Llama2Model.SummarizePath.KvCacheBytes,
        $"self-speculation: draft {Llama2Model.SummarizePath.DraftLayers} layers, {Llama2Model.SummarizePath.Lookahead} tokens a round"),
    ("classify", Llama2Model.ClassifyPath.Instance, Llama2Model.ClassifyPath.KvCacheBytes,
        $"early exit after layers {string.Join(", ", Llama2Model.ClassifyPath.EarlyExit.Thresholds.Select((t, l) => (t, l)).Where(x => x.t != null).Select(x => $"{x.l} (p >= {x.t})"))}"),
    ("extract", Llama2Model.ExtractPath.Instance, Llama2Model.ExtractPath.KvCacheBytes, ""),
    ("(full)", Llama2Model.FullPath.Instance, Llama2Model.FullPath.KvCacheBytes, ""),
};

Console.WriteLine();
Console.WriteLine($"{"task",-10} {"class",-14} {"kept",-6} {"KV bytes/token",15} {"KV cache (4096 tokens)",23} {"layer weights read/token",25}  kept layers / plan");
foreach (var (name, path, kvCacheBytes, extra) in paths)
{
    int kept = path.Mask.KeptCount;
    Console.WriteLine($"{name,-10} {path.GetType().Name,-14} {$"{kept}/{path.Mask.LayerCount}",-6} {kept * kvBytesPerLayer,15:N0} {Gib(kvCacheBytes),23} {Gib(kept * layerWeightBytes),25}  {Layers(path.Mask.KeptLayers.ToArray())}");
    if (extra.Length > 0) Console.WriteLine($"{"",-10} {extra}");
}
return 0;

static string Gib(long bytes) => $"{bytes / (double)(1L << 30):F2} GiB";

// Runs of consecutive layers, e.g. "0-15, 31".
static string Layers(int[] kept)
{
    var runs = new List<string>();
    for (int i = 0; i < kept.Length;)
    {
        int j = i;
        while (j + 1 < kept.Length && kept[j + 1] == kept[j] + 1) j++;
        runs.Add(i == j ? $"{kept[i]}" : $"{kept[i]}-{kept[j]}");
        i = j + 1;
    }
    return string.Join(", ", runs);
}
