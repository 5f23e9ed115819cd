using System.CommandLine;
using FiRST.Runtime;

namespace FiRST.Cli.Commands;

/// <summary><c>first inspect</c>: a model's configuration and sizes, without running it.</summary>
internal static class InspectCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model();
        var command = new Command("inspect", "Show a model's configuration, parameter count, bytes per layer and KV bytes per token") { model };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            using var loaded = LlamaModel.Load(path);
            Write(output, path, loaded);
            return 0;
        });
        return command;
    }

    private static void Write(TextWriter o, string path, LlamaModel model)
    {
        var c = model.Config;
        long layerBytes = model.Weights.Layers[0]!.Bytes;
        o.WriteLine($"model            {path}");
        o.WriteLine($"dim              {c.Dim}");
        o.WriteLine($"hidden_dim       {c.HiddenDim}");
        o.WriteLine($"n_layers         {c.NLayers}");
        o.WriteLine($"n_heads          {c.NHeads}");
        o.WriteLine($"n_kv_heads       {c.NKvHeads}  (head size {c.HeadSize}, kv_dim {c.KvDim})");
        o.WriteLine($"vocab_size       {c.VocabSize}");
        o.WriteLine($"max_seq_len      {c.MaxSeqLen}");
        o.WriteLine($"norm_eps         {c.NormEps:G}");
        o.WriteLine($"rope_theta       {c.RopeTheta:G}");
        o.WriteLine($"rope_scaling     {c.RopeScaling}");
        o.WriteLine($"classifier       {(c.SharedClassifier ? "shared with the embedding" : "separate")}");
        o.WriteLine($"parameters       {c.ParameterCount:N0}  ({Size(c.ParameterCount * 4)} as float32)");
        o.WriteLine($"weights          {model.Weights.FormatName}");
        o.WriteLine($"bytes per layer  {layerBytes:N0}  ({Size(layerBytes)})");
        o.WriteLine($"KV bytes/token   {c.KvBytesPerTokenPerLayer * c.NLayers:N0}  ({c.KvBytesPerTokenPerLayer:N0} per layer; full context {Size(c.KvBytesPerTokenPerLayer * c.NLayers * c.MaxSeqLen)})");
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
