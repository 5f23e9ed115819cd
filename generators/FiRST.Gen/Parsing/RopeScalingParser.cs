using System;
using System.Collections.Generic;
using System.Globalization;
using FiRST.Gen.Model;
using FiRST.Schema;

namespace FiRST.Gen.Parsing
{
    /// <summary>
    /// Reads RoPE settings with the runtime's rules: a profile's <c>model.rope_scaling</c>, and the two layouts of a
    /// Hugging Face <c>config.json</c> (transformers 4: top-level <c>rope_theta</c> and <c>rope_scaling</c>;
    /// transformers 5: <c>rope_parameters</c> with <c>rope_type</c>, <c>rope_theta</c> and the type's fields),
    /// which must agree where a file has both (FiRST.Runtime's <c>HuggingFaceRope</c>). Problems are
    /// <see cref="ModelError"/>s.
    /// </summary>
    internal static class RopeScalingParser
    {
        private static readonly string[] Blocks = { "rope_scaling", "rope_parameters" };

        /// <summary>A profile's <c>model.rope_scaling</c>; absent or null is no scaling, and a /1 file may not have it.</summary>
        public static RopeScalingSpec ReadProfile(JsonObject model, string schema)
        {
            string field = "model." + ProfileSchema.Rope.Field;
            var node = model.Get(ProfileSchema.Rope.Field);
            if (node is null || node is JsonNull) return RopeScalingSpec.Default;
            if (schema != ProfileSchema.Version) throw new ModelError($"{field} needs schema \"{ProfileSchema.Version}\"; this file is \"{schema}\"");
            if (!(node is JsonObject r)) throw new ModelError($"{field} must be an object with {ProfileSchema.Rope.Type} and its parameters, found {node.KindName}");
            if (!(r.Get(ProfileSchema.Rope.Type) is JsonString type))
                throw new ModelError($"{field}.{ProfileSchema.Rope.Type} must be a string (\"{ProfileSchema.Rope.Default}\", \"{ProfileSchema.Rope.Linear}\" or \"{ProfileSchema.Rope.Llama3}\")");
            var parameters = ProfileSchema.Rope.ParametersOf(type.Value);
            if (ProfileSchema.Rope.IsSupportedType(type.Value))
            {
                foreach (string name in r.Names)
                    if (name != ProfileSchema.Rope.Type && Array.IndexOf(parameters, name) < 0)
                        throw new ModelError($"{field}.{Clip(name)} is not a parameter of \"{type.Value}\" RoPE scaling");
                foreach (string name in parameters)
                    if (r.Get(name) is null || r.Get(name) is JsonNull)
                        throw new ModelError($"{field}.{name} is missing; \"{type.Value}\" RoPE scaling needs it");
            }
            return Checked(field, new RopeScalingSpec(
                type.Value,
                Number(r, ProfileSchema.Rope.Factor, field) ?? 1,
                Number(r, ProfileSchema.Rope.LowFreqFactor, field) ?? 0,
                Number(r, ProfileSchema.Rope.HighFreqFactor, field) ?? 0,
                Int(r, ProfileSchema.Rope.OriginalMaxPositionEmbeddings, field) ?? 0));
        }

        /// <summary>A config.json's RoPE base and scaling, from whichever layouts it has.</summary>
        public static (float Theta, RopeScalingSpec Scaling) ReadHuggingFace(JsonObject root)
        {
            CheckPartialRotary(root, "");
            int? topOriginal = Int(root, ProfileSchema.Rope.OriginalMaxPositionEmbeddings, null);
            var blocks = new List<(string Key, double? Theta, RopeScalingSpec Scaling)>();
            foreach (string key in Blocks)
            {
                var node = root.Get(key);
                if (node is null || node is JsonNull) continue;
                if (!(node is JsonObject block)) throw new ModelError($"{key} must be an object or null, found {node.KindName}");
                blocks.Add(ReadBlock(block, key, topOriginal));
            }

            string? thetaKey = null;
            double? theta = null;
            if (Number(root, "rope_theta", null) is double top) (thetaKey, theta) = ("rope_theta", top);
            foreach (var b in blocks)
            {
                if (!(b.Theta is double bt)) continue;
                if (theta is double known && known != bt) throw new ModelError($"{b.Key}.rope_theta {Show(bt)} disagrees with {thetaKey} {Show(known)}");
                (thetaKey, theta) = (b.Key + ".rope_theta", bt);
            }
            if (blocks.Count == 2 && !blocks[0].Scaling.Equals(blocks[1].Scaling))
                throw new ModelError($"{blocks[1].Key} ({Describe(blocks[1].Scaling)}) disagrees with {blocks[0].Key} ({Describe(blocks[0].Scaling)})");
            var scaling = blocks.Count > 0 ? blocks[0].Scaling : RopeScalingSpec.Default;
            if (scaling.Type == ProfileSchema.Rope.Llama3 && topOriginal is int o && o != scaling.OriginalMaxPositionEmbeddings)
                throw new ModelError($"original_max_position_embeddings {o} disagrees with the scaling's {scaling.OriginalMaxPositionEmbeddings}");
            return ((float)(theta ?? 10000), scaling);
        }

        private static (string, double?, RopeScalingSpec) ReadBlock(JsonObject e, string key, int? topOriginal)
        {
            string? type = null;
            foreach (string name in new[] { "rope_type", "type" })
            {
                var v = e.Get(name);
                if (v is null || v is JsonNull) continue;
                if (!(v is JsonString s)) throw new ModelError($"{key}.{name} must be a string such as \"llama3\", found {v.KindName}");
                if (type != null && type != s.Value) throw new ModelError($"{key}.{name} \"{Clip(s.Value)}\" disagrees with rope_type \"{Clip(type)}\"");
                type = s.Value;
            }
            type = type ?? ProfileSchema.Rope.Default;
            if (!ProfileSchema.Rope.IsSupportedType(type))
                throw new ModelError($"{key}.rope_type \"{Clip(type)}\": this RoPE scaling is not supported; expected \"{ProfileSchema.Rope.Default}\", \"{ProfileSchema.Rope.Linear}\" or \"{ProfileSchema.Rope.Llama3}\"");
            var parameters = ProfileSchema.Rope.ParametersOf(type);
            foreach (string name in e.Names)
            {
                if (name == "rope_type" || name == "type" || name == "rope_theta" || Array.IndexOf(parameters, name) >= 0) continue;
                if (name == "partial_rotary_factor") { CheckPartialRotary(e, key + "."); continue; }
                throw new ModelError($"{key}.{Clip(name)} is not a parameter of \"{type}\" RoPE scaling");
            }

            double Required(string name) => Number(e, name, key) ?? throw new ModelError($"{key}.{name} is missing; \"{type}\" RoPE scaling needs it");
            RopeScalingSpec scaling;
            if (type == ProfileSchema.Rope.Linear) scaling = new RopeScalingSpec(type, Required(ProfileSchema.Rope.Factor), 0, 0, 0);
            else if (type == ProfileSchema.Rope.Llama3)
                scaling = new RopeScalingSpec(type, Required(ProfileSchema.Rope.Factor), Required(ProfileSchema.Rope.LowFreqFactor), Required(ProfileSchema.Rope.HighFreqFactor),
                    Int(e, ProfileSchema.Rope.OriginalMaxPositionEmbeddings, key) ?? topOriginal
                    ?? throw new ModelError($"{key}.{ProfileSchema.Rope.OriginalMaxPositionEmbeddings} is missing; \"llama3\" RoPE scaling needs it"));
            else scaling = RopeScalingSpec.Default;
            return (key, Number(e, "rope_theta", key), Checked(key, scaling));
        }

        private static RopeScalingSpec Checked(string prefix, RopeScalingSpec s)
        {
            string? problem = ProfileSchema.Rope.Problem(s.Type, s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings, out string field);
            if (problem != null) throw new ModelError($"{prefix}.{field}: {problem}");
            return s;
        }

        /// <summary>Only whole-head rotation is supported: <c>partial_rotary_factor</c> must be 1 (or absent, or null).</summary>
        private static void CheckPartialRotary(JsonObject e, string prefix)
        {
            if (Number(e, "partial_rotary_factor", prefix.TrimEnd('.')) is double f && f != 1)
                throw new ModelError($"{prefix}partial_rotary_factor {Show(f)} is not supported; rotary embeddings here turn the whole head (expected 1)");
        }

        private static double? Number(JsonObject e, string name, string? prefix)
        {
            var node = e.Get(name);
            if (node is null || node is JsonNull) return null;
            if (!(node is JsonNumber n)) throw new ModelError($"{Name(prefix, name)} must be a number, found {node.KindName}");
            return n.Value;
        }

        private static int? Int(JsonObject e, string name, string? prefix)
        {
            var node = e.Get(name);
            if (node is null || node is JsonNull) return null;
            if (!(node is JsonNumber n) || !n.IsIntegerLiteral || !int.TryParse(n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
                throw new ModelError($"{Name(prefix, name)} must be a 32-bit integer, found {(node is JsonNumber m ? Clip(m.Text) : node.KindName)}");
            return value;
        }

        private static string Name(string? prefix, string name) => string.IsNullOrEmpty(prefix) ? name : prefix + "." + name;

        private static string Describe(RopeScalingSpec s) =>
            s.Type == ProfileSchema.Rope.Llama3
                ? $"llama3, factor {Show(s.Factor)}, low_freq_factor {Show(s.LowFreqFactor)}, high_freq_factor {Show(s.HighFreqFactor)}, original_max_position_embeddings {s.OriginalMaxPositionEmbeddings}"
                : s.Type == ProfileSchema.Rope.Linear ? $"linear, factor {Show(s.Factor)}" : s.Type;

        private static string Show(double v) => v.ToString("R", CultureInfo.InvariantCulture);

        private static string Clip(string s) => s.Length <= 60 ? s : s.Substring(0, 60) + "…";
    }
}
