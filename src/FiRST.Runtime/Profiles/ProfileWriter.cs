using System.Text.Json;

namespace FiRST.Runtime.Profiles;

/// <summary>Writes a <see cref="ModelProfile"/> in the schema <see cref="ProfileReader"/> reads.</summary>
internal static class ProfileWriter
{
    public static void Write(Utf8JsonWriter w, ModelProfile p)
    {
        var c = p.Model;
        w.WriteStartObject();
        w.WriteString("schema", FiRST.Schema.ProfileSchema.Version);
        w.WriteStartObject("model");
        w.WriteString("architecture", FiRST.Schema.ProfileSchema.Architecture);
        w.WriteNumber("dim", c.Dim);
        w.WriteNumber("hidden_dim", c.HiddenDim);
        w.WriteNumber("n_layers", c.NLayers);
        w.WriteNumber("n_heads", c.NHeads);
        w.WriteNumber("n_kv_heads", c.NKvHeads);
        w.WriteNumber("vocab_size", c.VocabSize);
        w.WriteNumber("max_seq_len", c.MaxSeqLen);
        w.WriteNumber("norm_eps", c.NormEps);
        w.WriteNumber("rope_theta", c.RopeTheta);
        w.WriteBoolean("shared_classifier", c.SharedClassifier);
        w.WriteEndObject();
        if (p.Routers is { } r)
        {
            w.WriteStartObject("routers");
            w.WriteString("file", r.File);
            w.WriteNumber("threshold", r.Threshold);
            w.WriteEndObject();
        }
        w.WriteStartArray("tasks");
        foreach (var t in p.Tasks)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            Ints(w, "kept_layers", t.KeptLayers);
            Ints(w, "skipped_layers", Enumerable.Range(0, c.NLayers).Except(t.KeptLayers).ToArray());
            Number(w, "accuracy_full", t.AccuracyFull);
            Number(w, "accuracy_masked", t.AccuracyMasked);
            Number(w, "agreement", t.Agreement);
            Number(w, "ms_per_token_full", t.MsPerTokenFull);
            Number(w, "ms_per_token_masked", t.MsPerTokenMasked);
            Number(w, "speedup", t.Speedup);
            if (t.Prompts is { } n) w.WriteNumber("prompts", n);
            if (t.MeanP is { } mp)
            {
                w.WriteStartArray("mean_p");
                foreach (double v in mp) w.WriteNumberValue(v);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Ints(Utf8JsonWriter w, string name, IReadOnlyList<int> values)
    {
        w.WriteStartArray(name);
        foreach (int v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
    }
}
