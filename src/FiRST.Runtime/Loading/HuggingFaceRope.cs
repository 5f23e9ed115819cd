using System.Text.Json;
using FiRST.Schema;

namespace FiRST.Runtime.Loading;

/// <summary>
/// The RoPE settings of a Hugging Face <c>config.json</c> in either layout: transformers 4 (top-level
/// <c>rope_theta</c>, a <c>rope_scaling</c> object) and transformers 5 (a <c>rope_parameters</c> object holding
/// <c>rope_type</c>, <c>rope_theta</c> and the type's fields). Where a file has both, they must agree. Every key
/// of either object is a parameter of its type or an error: a key read by nobody could change the math.
/// </summary>
internal static class HuggingFaceRope
{
    /// <summary>The two objects, in the order their values are compared.</summary>
    private static readonly string[] Blocks = ["rope_scaling", "rope_parameters"];

    /// <summary>One object's reading: where it came from, its theta if it has one, its scaling.</summary>
    private readonly record struct Block(string Key, double? Theta, RopeScaling Scaling);

    public static (float Theta, RopeScaling Scaling) Read(JsonElement root, string path)
    {
        RefusePartialRotary(root, path, "partial_rotary_factor");
        int? topOriginal = OptionalInt(root, path, ProfileSchema.Rope.OriginalMaxPositionEmbeddings, "");
        var blocks = new List<Block>();
        foreach (string key in Blocks)
            if (root.TryGetProperty(key, out var e) && e.ValueKind != JsonValueKind.Null)
                blocks.Add(ReadBlock(e, path, key, topOriginal));

        // rope_theta: the top-level key (transformers 4) or inside either object (transformers 5).
        string? thetaKey = null;
        double? theta = null;
        if (root.TryGetProperty("rope_theta", out var t) && t.ValueKind != JsonValueKind.Null)
            (thetaKey, theta) = ("rope_theta", Number(t, path, "rope_theta"));
        foreach (var b in blocks)
        {
            if (b.Theta is not { } bt) continue;
            if (theta is { } known && known != bt)
                throw new ModelLoadException(path, b.Key + ".rope_theta", $"{Show(bt)} disagrees with {thetaKey} {Show(known)}");
            (thetaKey, theta) = (b.Key + ".rope_theta", bt);
        }
        if (blocks.Count == 2 && blocks[0].Scaling != blocks[1].Scaling)
            throw new ModelLoadException(path, blocks[1].Key, $"{blocks[1].Scaling} disagrees with {blocks[0].Key} {blocks[0].Scaling}");
        var scaling = blocks.Count > 0 ? blocks[0].Scaling : RopeScaling.Default;
        if (scaling.Type == RopeScalingType.Llama3 && topOriginal is { } o && o != scaling.OriginalMaxPositionEmbeddings)
            throw new ModelLoadException(path, ProfileSchema.Rope.OriginalMaxPositionEmbeddings, $"{o} disagrees with the scaling's {scaling.OriginalMaxPositionEmbeddings}");
        return ((float)(theta ?? 10000), scaling);
    }

    private static Block ReadBlock(JsonElement e, string path, string key, int? topOriginal)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, key, "expected an object or null");
        // transformers 4.43 renamed "type" to "rope_type" and still reads the old name.
        string? type = null;
        string typeKey = "rope_type";
        foreach (string name in new[] { "rope_type", "type" })
        {
            if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) continue;
            if (v.ValueKind != JsonValueKind.String) throw new ModelLoadException(path, $"{key}.{name}", "expected a string such as \"llama3\"");
            string s = v.GetString()!;
            if (type is not null && type != s) throw new ModelLoadException(path, $"{key}.{name}", $"'{s}' disagrees with rope_type '{type}'");
            (type, typeKey) = (s, type is null ? name : typeKey);
        }
        type ??= ProfileSchema.Rope.Default;
        if (!ProfileSchema.Rope.IsSupportedType(type))
            throw new ModelLoadException(path, $"{key}.{typeKey}", $"'{Clip(type)}' RoPE scaling is not supported; expected '{ProfileSchema.Rope.Default}', '{ProfileSchema.Rope.Linear}' or '{ProfileSchema.Rope.Llama3}'");

        var parameters = ProfileSchema.Rope.ParametersOf(type);
        foreach (var p in e.EnumerateObject())
        {
            if (p.Name is "rope_type" or "type" or "rope_theta" || parameters.Contains(p.Name)) continue;
            if (p.Name == "partial_rotary_factor") { RefusePartialRotary(e, path, $"{key}.partial_rotary_factor"); continue; }
            throw new ModelLoadException(path, $"{key}.{Clip(p.Name)}", $"is not a parameter of '{type}' RoPE scaling; expected {(parameters.Length == 0 ? "none" : string.Join(", ", parameters))}");
        }

        double Required(string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
            ? Number(v, path, $"{key}.{name}") : throw new ModelLoadException(path, $"{key}.{name}", $"missing; '{type}' RoPE scaling needs it");
        RopeScaling scaling = type switch
        {
            ProfileSchema.Rope.Linear => RopeScaling.Linear(Required(ProfileSchema.Rope.Factor)),
            ProfileSchema.Rope.Llama3 => RopeScaling.Llama3(Required(ProfileSchema.Rope.Factor), Required(ProfileSchema.Rope.LowFreqFactor), Required(ProfileSchema.Rope.HighFreqFactor),
                // transformers 5 lets a top-level original_max_position_embeddings stand in for the object's.
                OptionalInt(e, path, ProfileSchema.Rope.OriginalMaxPositionEmbeddings, key + ".") ?? topOriginal
                      ?? throw new ModelLoadException(path, $"{key}.{ProfileSchema.Rope.OriginalMaxPositionEmbeddings}", "missing; 'llama3' RoPE scaling needs it")),
            _ => RopeScaling.Default,
        };
        if (ProfileSchema.Rope.Problem(type, scaling.Factor, scaling.LowFreqFactor, scaling.HighFreqFactor, scaling.OriginalMaxPositionEmbeddings, out string field) is { } problem)
            throw new ModelLoadException(path, $"{key}.{field}", problem);
        double? theta = e.TryGetProperty("rope_theta", out var t) && t.ValueKind != JsonValueKind.Null ? Number(t, path, key + ".rope_theta") : null;
        return new Block(key, theta, scaling);
    }

    /// <summary>Rotating only part of each head (<c>partial_rotary_factor</c> below 1) is not supported; 1 or null is the whole head.</summary>
    private static void RefusePartialRotary(JsonElement e, string path, string field)
    {
        string name = field[(field.LastIndexOf('.') + 1)..];
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return;
        if (Number(v, path, field) != 1)
            throw new ModelLoadException(path, field, $"{v.GetRawText()} is not supported; rotary embeddings here turn the whole head (expected 1)");
    }

    private static int? OptionalInt(JsonElement e, string path, string name, string prefix)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
            : throw new ModelLoadException(path, prefix + name, $"expected a 32-bit integer, got {Clip(v.GetRawText())}");
    }

    private static double Number(JsonElement v, string path, string field) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d
        : throw new ModelLoadException(path, field, $"expected a finite number, got {Clip(v.GetRawText())}");

    private static string Show(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
