using System.Text.Json;
using FiRST.Schema;

namespace FiRST.Runtime.Profiles;

/// <summary>Writes a <see cref="ModelProfile"/> in the schema <see cref="ProfileReader"/> reads.</summary>
internal static class ProfileWriter
{
    public static void Write(Utf8JsonWriter w, ModelProfile p)
    {
        var c = p.Model;
        w.WriteStartObject();
        w.WriteString("schema", ProfileSchema.Version);
        w.WriteStartObject("model");
        w.WriteString("architecture", ProfileSchema.Architecture);
        w.WriteNumber("dim", c.Dim);
        w.WriteNumber("hidden_dim", c.HiddenDim);
        w.WriteNumber("n_layers", c.NLayers);
        w.WriteNumber("n_heads", c.NHeads);
        w.WriteNumber("n_kv_heads", c.NKvHeads);
        w.WriteNumber("vocab_size", c.VocabSize);
        w.WriteNumber("max_seq_len", c.MaxSeqLen);
        w.WriteNumber("norm_eps", c.NormEps);
        w.WriteNumber("rope_theta", c.RopeTheta);
        if (c.RopeScaling.Type != RopeScalingType.Default)
        {
            // Only what the type uses, so the block reads as transformers' rope_scaling does.
            w.WriteStartObject(ProfileSchema.Rope.Field);
            w.WriteString(ProfileSchema.Rope.Type, c.RopeScaling.TypeName);
            w.WriteNumber(ProfileSchema.Rope.Factor, c.RopeScaling.Factor);
            if (c.RopeScaling.Type == RopeScalingType.Llama3)
            {
                w.WriteNumber(ProfileSchema.Rope.LowFreqFactor, c.RopeScaling.LowFreqFactor);
                w.WriteNumber(ProfileSchema.Rope.HighFreqFactor, c.RopeScaling.HighFreqFactor);
                w.WriteNumber(ProfileSchema.Rope.OriginalMaxPositionEmbeddings, c.RopeScaling.OriginalMaxPositionEmbeddings);
            }
            w.WriteEndObject();
        }
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
            if (t.EarlyExit is { } exit)
            {
                w.WriteStartObject(ProfileSchema.Fields.EarlyExit);
                w.WriteStartArray(ProfileSchema.Fields.Thresholds);
                // Written as floats (0.9, not 0.8999999761581421): the shortest text that reads back as the same float.
                foreach (float? v in exit.Thresholds)
                {
                    if (v is { } f) w.WriteNumberValue(f);
                    else w.WriteNullValue();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            if (t.Speculation is { } plan)
            {
                w.WriteStartObject(ProfileSchema.Fields.Speculation);
                w.WriteNumber(ProfileSchema.Fields.DraftLayers, plan.DraftLayers);
                w.WriteNumber(ProfileSchema.Fields.Lookahead, plan.Lookahead);
                w.WriteEndObject();
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
