using System.Text.Json;
using FiRST.Schema;

namespace FiRST.Runtime.Profiles;

/// <summary>Turns a profile's JSON into a <see cref="ModelProfile"/>, checking every rule of the schema.</summary>
internal static class ProfileReader
{
    public static ModelProfile Read(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Error(source, "", "expected a JSON object");
        string schema = String(root, "schema", source);
        if (schema != ProfileSchema.Version)
            throw Error(source, "schema", $"'{schema}' is not supported; this runtime reads '{ProfileSchema.Version}'");

        var model = Object(root, "model", source);
        string architecture = String(model, "architecture", source, "model.");
        if (architecture != ProfileSchema.Architecture)
            throw Error(source, "model.architecture", $"'{architecture}' is not supported; expected '{ProfileSchema.Architecture}'");
        var config = new ModelConfig
        {
            Dim = Int(model, "dim", source),
            HiddenDim = Int(model, "hidden_dim", source),
            NLayers = Int(model, "n_layers", source),
            NHeads = Int(model, "n_heads", source),
            NKvHeads = Int(model, "n_kv_heads", source),
            VocabSize = Int(model, "vocab_size", source),
            MaxSeqLen = Int(model, "max_seq_len", source),
            // Optional, but unlike the measurements not nullable: null has no meaning for a shape, and the
            // generator, which turns these into constants, refuses it too.
            NormEps = (float)(ModelNumber(model, "norm_eps", source) ?? 1e-5),
            RopeTheta = (float)(ModelNumber(model, "rope_theta", source) ?? 10000),
            SharedClassifier = ModelBool(model, "shared_classifier", source) ?? true,
        };
        config.Validate(source);

        RouterReference? routers = null;
        if (root.TryGetProperty("routers", out var r) && r.ValueKind != JsonValueKind.Null)
        {
            if (r.ValueKind != JsonValueKind.Object) throw Error(source, "routers", "expected an object with file and threshold");
            double threshold = OptionalNumber(r, "threshold", source, "routers.") ?? 0.5;
            if (threshold is < 0 or > 1) throw Error(source, "routers.threshold", $"expected a value in [0, 1], got {threshold}");
            routers = new RouterReference(String(r, "file", source, "routers."), (float)threshold);
        }

        if (!root.TryGetProperty("tasks", out var tasksElement) || tasksElement.ValueKind != JsonValueKind.Array)
            throw Error(source, "tasks", "missing or not an array");
        var tasks = new List<TaskProfile>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var members = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var t in tasksElement.EnumerateArray())
        {
            var task = ReadTask(t, source, config.NLayers, tasks.Count);
            if (!names.Add(task.Name)) throw Error(source, $"tasks[{tasks.Count}].name", $"'{task.Name}' appears twice (names are compared ignoring case)");
            string member = ProfileSchema.TaskMemberName(task.Name);
            if (members.TryGetValue(member, out string? clash))
                throw Error(source, $"tasks[{tasks.Count}].name", $"'{task.Name}' becomes '{member}' in generated code, like the task '{clash}'");
            members.Add(member, task.Name);
            tasks.Add(task);
        }
        return new ModelProfile { Model = config, Routers = routers, Tasks = tasks };
    }

    private static TaskProfile ReadTask(JsonElement t, string source, int layers, int index)
    {
        string at = $"tasks[{index}].";
        if (t.ValueKind != JsonValueKind.Object) throw Error(source, at.TrimEnd('.'), "expected an object");
        string name = String(t, "name", source, at);
        if (name.Length > ProfileSchema.MaxTaskNameLength)
            throw Error(source, at + "name", $"'{name[..60]}…' is longer than {ProfileSchema.MaxTaskNameLength} characters");
        if (!ProfileSchema.IsTaskName(name))
            throw Error(source, at + "name", $"'{name}' is not an identifier (ASCII letters, digits and '_', not starting with a digit)");
        string member = ProfileSchema.TaskMemberName(name);
        if (member.Length == 0)
            throw Error(source, at + "name", $"'{name}' has no letter or digit to name generated code after");
        if (string.Equals(member, ProfileSchema.Members.Full, StringComparison.OrdinalIgnoreCase))
            throw Error(source, at + "name", $"'{name}' is reserved: generated code names the all-layers path {ProfileSchema.Members.FullPath}");
        at = $"tasks[{index}] ({name}).";

        var kept = Ints(t, "kept_layers", source, at) ?? throw Error(source, at + "kept_layers", "missing");
        if (kept.Length == 0) throw Error(source, at + "kept_layers", "the task keeps no layer; at least one must run");
        for (int i = 0; i < kept.Length; i++)
        {
            if (kept[i] < 0 || kept[i] >= layers) throw Error(source, at + "kept_layers", $"layer {kept[i]} does not exist in a model of {layers} layers");
            if (i > 0 && kept[i] <= kept[i - 1]) throw Error(source, at + "kept_layers", "layers must be ascending without repeats");
        }
        if (Ints(t, "skipped_layers", source, at) is { } skipped)
        {
            var expected = Enumerable.Range(0, layers).Except(kept).ToArray();
            if (!skipped.SequenceEqual(expected))
                throw Error(source, at + "skipped_layers", $"expected the layers not kept, [{string.Join(", ", expected)}]");
        }
        double[]? meanP = null;
        if (t.TryGetProperty("mean_p", out var mp) && mp.ValueKind != JsonValueKind.Null)
        {
            if (mp.ValueKind != JsonValueKind.Array || mp.GetArrayLength() != layers)
                throw Error(source, at + "mean_p", $"expected an array of {layers} numbers (one per layer)");
            meanP = mp.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Error(source, at + "mean_p", "expected numbers")).ToArray();
        }
        int? prompts = t.TryGetProperty("prompts", out var pr) && pr.ValueKind != JsonValueKind.Null
            ? (pr.ValueKind == JsonValueKind.Number && pr.TryGetInt32(out int n) && n >= 0 ? n : throw Error(source, at + "prompts", "expected a count"))
            : null;
        return new TaskProfile
        {
            Name = name,
            KeptLayers = kept,
            AccuracyFull = Share(t, "accuracy_full", source, at),
            AccuracyMasked = Share(t, "accuracy_masked", source, at),
            Agreement = Share(t, "agreement", source, at),
            MsPerTokenFull = OptionalNumber(t, "ms_per_token_full", source, at),
            MsPerTokenMasked = OptionalNumber(t, "ms_per_token_masked", source, at),
            Speedup = OptionalNumber(t, "speedup", source, at),
            Prompts = prompts,
            MeanP = meanP,
        };
    }

    private static JsonElement Object(JsonElement e, string name, string source) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : throw Error(source, name, "missing or not an object");

    private static string String(JsonElement e, string name, string source, string prefix = "") =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Error(source, prefix + name, "missing or not a string");

    private static int Int(JsonElement e, string name, string source) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw Error(source, "model." + name, "missing or not a 32-bit integer");

    private static double? OptionalNumber(JsonElement e, string name, string source, string prefix)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()) ? v.GetDouble() : throw Error(source, prefix + name, "expected a finite number");
    }

    private static double? ModelNumber(JsonElement e, string name, string source)
    {
        if (!e.TryGetProperty(name, out var v)) return null;
        return v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()) ? v.GetDouble() : throw Error(source, "model." + name, "expected a finite number");
    }

    private static bool? ModelBool(JsonElement e, string name, string source)
    {
        if (!e.TryGetProperty(name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(source, "model." + name, "expected true or false"),
        };
    }

    private static double? Share(JsonElement e, string name, string source, string prefix)
    {
        double? v = OptionalNumber(e, name, source, prefix);
        return v is null or (>= 0 and <= 1) ? v : throw Error(source, prefix + name, $"expected a share in [0, 1], got {v}");
    }

    private static int[]? Ints(JsonElement e, string name, string source, string prefix)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Error(source, prefix + name, "expected an array of layer indices");
        return v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int i) ? i
            : throw Error(source, prefix + name, $"expected integers, got {x.GetRawText()}")).ToArray();
    }

    private static ModelLoadException Error(string source, string field, string problem) => new(source, field, problem);
}
