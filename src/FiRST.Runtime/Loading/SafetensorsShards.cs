using System.Text.Json;

namespace FiRST.Runtime.Loading;

/// <summary>
/// How a Hugging Face checkpoint is split into shards, as transformers' <c>save_pretrained</c> splits one: tensors
/// taken in order, a new shard begun when the next tensor would take the current one past the limit (a tensor
/// larger than the limit gets a shard of its own), files named <c>model-0000i-of-0000n.safetensors</c> and listed in
/// <c>model.safetensors.index.json</c>. A checkpoint that fits in one shard is the single <c>model.safetensors</c>.
/// </summary>
internal static class SafetensorsShards
{
    /// <summary>transformers' default <c>max_shard_size</c>, "5GB" (decimal, as it counts).</summary>
    public const long DefaultMaxBytes = 5_000_000_000;

    public const string SingleFile = "model.safetensors";

    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>The shards, each a run of consecutive tensors: its file name and the index of its first tensor and how many it holds.</summary>
    public static List<(string File, int First, int Count)> Plan(IReadOnlyList<long> tensorBytes, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        var runs = new List<(int First, int Count)>();
        long size = 0;
        for (int i = 0; i < tensorBytes.Count; i++)
        {
            if (runs.Count == 0 || (size > 0 && size + tensorBytes[i] > maxBytes))
            {
                runs.Add((i, 0));
                size = 0;
            }
            runs[^1] = (runs[^1].First, runs[^1].Count + 1);
            size += tensorBytes[i];
        }
        int n = runs.Count;
        return runs.Select((r, i) => (n == 1 ? SingleFile : $"model-{i + 1:D5}-of-{n:D5}.safetensors", r.First, r.Count)).ToList();
    }

    /// <summary>The index: total bytes of tensor data and each tensor's shard, names sorted as transformers writes them.</summary>
    public static void WriteIndex(string path, long totalBytes, IEnumerable<(string Tensor, string Shard)> weightMap)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        using var j = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        j.WriteStartObject();
        j.WriteStartObject("metadata");
        j.WriteNumber("total_size", totalBytes);
        j.WriteEndObject();
        j.WriteStartObject("weight_map");
        foreach (var (tensor, shard) in weightMap.OrderBy(t => t.Tensor, StringComparer.Ordinal)) j.WriteString(tensor, shard);
        j.WriteEndObject();
        j.WriteEndObject();
    }
}
