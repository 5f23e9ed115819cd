using System.Text.Json;
using FiRST.Runtime.Decoding;
using FiRST.Schema;

namespace FiRST.Runtime.Profiles;

/// <summary>Turns a profile's JSON into a <see cref="ModelProfile"/>, checking every rule of the schema.</summary>
internal static class ProfileReader
{
    public static ModelProfile Read(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Error(source, "", "expected a JSON object");
        string schema = String(root, "schema", source);
        if (!ProfileSchema.IsKnownVersion(schema))
            throw Error(source, "schema", $"'{schema}' is not supported; this runtime reads '{ProfileSchema.VersionV1}' and '{ProfileSchema.Version}'");

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
            RopeScaling = ReadRopeScaling(model, source, schema),
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
            var task = ReadTask(t, source, config.NLayers, tasks.Count, schema);
            if (!names.Add(task.Name)) throw Error(source, $"tasks[{tasks.Count}].name", $"'{task.Name}' appears twice (names are compared ignoring case)");
            string member = ProfileSchema.TaskMemberName(task.Name);
            if (members.TryGetValue(member, out string? clash))
                throw Error(source, $"tasks[{tasks.Count}].name", $"'{task.Name}' becomes '{member}' in generated code, like the task '{clash}'");
            // A task's draft half is named after it (ProfileSchema.Members.DraftPathSuffix), so a pair such as
            // copy and copy_draft would give two classes CopyDraftPath; checked both ways, as either may come first.
            if (members.TryGetValue(member + ProfileSchema.Members.Draft, out clash))
                throw Error(source, $"tasks[{tasks.Count}].name", $"'{task.Name}' would name its draft half '{member}{ProfileSchema.Members.DraftPathSuffix}' in generated code, the path class of the task '{clash}'");
            if (member.EndsWith(ProfileSchema.Members.Draft, StringComparison.OrdinalIgnoreCase)
                && members.TryGetValue(member[..^ProfileSchema.Members.Draft.Length], out clash))
                throw Error(source, $"tasks[{tasks.Count}].name", $"'{task.Name}' becomes '{member}{ProfileSchema.Members.PathSuffix}' in generated code, the draft half of the task '{clash}'");
            members.Add(member, task.Name);
            tasks.Add(task);
        }
        return new ModelProfile { Model = config, Routers = routers, Tasks = tasks };
    }

    private static TaskProfile ReadTask(JsonElement t, string source, int layers, int index, string schema)
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
            // Finite, as the generator's JSON reader refuses a number beyond double's range (1e999), which
            // System.Text.Json would read as infinity.
            meanP = mp.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double v) && double.IsFinite(v) ? v
                : throw Error(source, at + "mean_p", "expected finite numbers")).ToArray();
        }
        int? prompts = t.TryGetProperty("prompts", out var pr) && pr.ValueKind != JsonValueKind.Null
            ? (pr.ValueKind == JsonValueKind.Number && pr.TryGetInt32(out int n) && n >= 0 ? n : throw Error(source, at + "prompts", "expected a count"))
            : null;
        var earlyExit = ReadEarlyExit(t, source, at, layers, schema);
        var speculation = ReadSpeculation(t, source, at, kept.Length, schema);
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
            EarlyExit = earlyExit,
            Speculation = speculation,
        };
    }

    /// <summary>
    /// The model's <c>rope_scaling</c> (a <c>first.profile/2</c> field): absent or null is no scaling. Parameters the
    /// type does not use may be left out; <see cref="ModelConfig.Validate"/> then checks the values.
    /// </summary>
    private static RopeScaling ReadRopeScaling(JsonElement model, string source, string schema)
    {
        string field = "model." + ProfileSchema.Rope.Field;
        if (!model.TryGetProperty(ProfileSchema.Rope.Field, out var r) || r.ValueKind == JsonValueKind.Null) return RopeScaling.Default;
        if (schema != ProfileSchema.Version) throw Error(source, field, $"needs schema '{ProfileSchema.Version}'; this file is '{schema}'");
        if (r.ValueKind != JsonValueKind.Object) throw Error(source, field, $"expected an object with {ProfileSchema.Rope.Type} and its parameters, got {Kind(r)}");
        string type = String(r, ProfileSchema.Rope.Type, source, field + ".");
        var kind = type switch
        {
            ProfileSchema.Rope.Default => RopeScalingType.Default,
            ProfileSchema.Rope.Linear => RopeScalingType.Linear,
            ProfileSchema.Rope.Llama3 => RopeScalingType.Llama3,
            _ => throw Error(source, field + "." + ProfileSchema.Rope.Type,
                $"'{(type.Length <= 40 ? type : type[..40] + "…")}' is not supported; expected '{ProfileSchema.Rope.Default}', '{ProfileSchema.Rope.Linear}' or '{ProfileSchema.Rope.Llama3}'"),
        };
        var parameters = ProfileSchema.Rope.ParametersOf(type);
        foreach (var p in r.EnumerateObject())
            if (p.Name != ProfileSchema.Rope.Type && !parameters.Contains(p.Name))
                throw Error(source, $"{field}.{(p.Name.Length <= 40 ? p.Name : p.Name[..40] + "…")}", $"is not a parameter of '{type}' RoPE scaling");
        foreach (string name in parameters)
            if (!r.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
                throw Error(source, $"{field}.{name}", $"missing; '{type}' RoPE scaling needs it");
        double Number(string name, double fallback) => OptionalNumber(r, name, source, field + ".") ?? fallback;
        int original = 0;
        if (r.TryGetProperty(ProfileSchema.Rope.OriginalMaxPositionEmbeddings, out var o) && o.ValueKind != JsonValueKind.Null)
            original = o.ValueKind == JsonValueKind.Number && o.TryGetInt32(out int v) ? v
                : throw Error(source, $"{field}.{ProfileSchema.Rope.OriginalMaxPositionEmbeddings}", $"expected a 32-bit integer, got {Kind(o)}");
        return new RopeScaling
        {
            Type = kind,
            Factor = Number(ProfileSchema.Rope.Factor, 1),
            LowFreqFactor = Number(ProfileSchema.Rope.LowFreqFactor, 0),
            HighFreqFactor = Number(ProfileSchema.Rope.HighFreqFactor, 0),
            OriginalMaxPositionEmbeddings = original,
        };
    }

    /// <summary>
    /// The task's <c>early_exit</c>: one threshold per layer, each null or in (0, 1], one set at least. Absent
    /// or null: none. Checked here, before <see cref="EarlyExitOptions"/> would refuse the same values, so the
    /// error names the file and the field.
    /// </summary>
    private static EarlyExitOptions? ReadEarlyExit(JsonElement t, string source, string at, int layers, string schema)
    {
        string field = at + ProfileSchema.Fields.EarlyExit;
        if (!V2Field(t, ProfileSchema.Fields.EarlyExit, source, field, schema, out var e)) return null;
        if (e.ValueKind != JsonValueKind.Object) throw Error(source, field, $"expected an object with {ProfileSchema.Fields.Thresholds}, got {Kind(e)}");
        field += "." + ProfileSchema.Fields.Thresholds;
        if (!e.TryGetProperty(ProfileSchema.Fields.Thresholds, out var th) || th.ValueKind != JsonValueKind.Array)
            throw Error(source, field, $"missing or not an array; expected {layers} entries (one per layer), each null or a number in (0, 1]");
        if (th.GetArrayLength() != layers)
            throw Error(source, field, $"has {th.GetArrayLength()} entries but the model has {layers} layers; expected one per layer");
        var thresholds = new float?[layers];
        bool any = false;
        int l = 0;
        foreach (var x in th.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Null)
            {
                if (x.ValueKind != JsonValueKind.Number || !x.TryGetDouble(out double v) || !ProfileSchema.IsExitThreshold(v))
                    throw Error(source, field, $"entry {l} (after layer {l}) must be null or a number in (0, 1], got {Kind(x)}");
                thresholds[l] = (float)v;
                any = true;
            }
            l++;
        }
        if (!any) throw Error(source, field, "every entry is null; set a threshold after one layer at least, or leave early_exit out");
        return new EarlyExitOptions(thresholds);
    }

    /// <summary>
    /// The task's <c>speculation</c>: E (<c>draft_layers</c>) from 1 to the kept layers less one, so some layers
    /// verify, and k (<c>lookahead</c>) from 1 to <see cref="ProfileSchema.MaxLookahead"/>. Absent or null: none.
    /// </summary>
    private static SpeculationOptions? ReadSpeculation(JsonElement t, string source, string at, int kept, string schema)
    {
        string field = at + ProfileSchema.Fields.Speculation;
        if (!V2Field(t, ProfileSchema.Fields.Speculation, source, field, schema, out var s)) return null;
        if (s.ValueKind != JsonValueKind.Object)
            throw Error(source, field, $"expected an object with {ProfileSchema.Fields.DraftLayers} and {ProfileSchema.Fields.Lookahead}, got {Kind(s)}");
        int draft = PlanInt(s, ProfileSchema.Fields.DraftLayers, source, field);
        if (kept < 2)
            throw Error(source, field + "." + ProfileSchema.Fields.DraftLayers, $"the task keeps {kept} layer, so none is left to verify a draft; speculation needs 2 kept layers at least");
        if (draft < 1 || draft >= kept)
            throw Error(source, field + "." + ProfileSchema.Fields.DraftLayers, $"expected 1 to {kept - 1} (the draft runs the first E of the task's {kept} kept layers, and one must be left to verify), got {draft}");
        int lookahead = PlanInt(s, ProfileSchema.Fields.Lookahead, source, field);
        if (lookahead < 1 || lookahead > ProfileSchema.MaxLookahead)
            throw Error(source, field + "." + ProfileSchema.Fields.Lookahead, $"expected 1 to {ProfileSchema.MaxLookahead} drafted tokens per round, got {lookahead}");
        return new SpeculationOptions(draft, lookahead);
    }

    /// <summary>
    /// True when the task has the <c>first.profile/2</c> field <paramref name="name"/> (null counts as absent);
    /// a <c>first.profile/1</c> file that has it is an error rather than a file run without what it asks for.
    /// </summary>
    private static bool V2Field(JsonElement t, string name, string source, string field, string schema, out JsonElement value)
    {
        if (!t.TryGetProperty(name, out value) || value.ValueKind == JsonValueKind.Null) return false;
        if (schema != ProfileSchema.Version)
            throw Error(source, field, $"needs schema '{ProfileSchema.Version}'; this file is '{schema}'");
        return true;
    }

    private static int PlanInt(JsonElement e, string name, string source, string prefix) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw Error(source, prefix + "." + name, v.ValueKind == JsonValueKind.Undefined ? "missing; expected an integer" : $"expected an integer, got {Kind(v)}");

    /// <summary>A value as an error shows it: a number as written, anything else by its kind (a string may be long).</summary>
    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetRawText().Length <= 40 ? e.GetRawText() : e.GetRawText()[..40] + "…",
        JsonValueKind.String => "a string",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.True or JsonValueKind.False => e.ValueKind.ToString().ToLowerInvariant(),
        _ => "null",
    };

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
