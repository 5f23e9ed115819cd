using System;
using System.Collections.Generic;
using System.Globalization;
using FiRST.Gen.Model;
using FiRST.Schema;
using Microsoft.CodeAnalysis;

namespace FiRST.Gen.Parsing
{
    /// <summary>
    /// Turns the text of a FiRST profile (<c>schema</c> present) or of a bare Hugging Face Llama
    /// <c>config.json</c> (<c>hidden_size</c> present) into a validated <see cref="ModelSpec"/>, following
    /// docs/profile-schema.md and the checks of <c>FiRST.Runtime.ModelConfig.Validate</c>, so that generated
    /// code never fails at run time on numbers the build accepted. Problems become diagnostics at the
    /// attribute's argument; task problems are all collected, model problems stop at the first.
    /// </summary>
    internal sealed class ModelSpecParser
    {
        private readonly string _file;
        private readonly string _className;
        private readonly LocationInfo? _location;
        private readonly List<DiagnosticInfo> _diagnostics = new List<DiagnosticInfo>();

        private ModelSpecParser(string file, string className, LocationInfo? location)
        {
            _file = file;
            _className = className;
            _location = location;
        }

        /// <summary>Parses and validates <paramref name="text"/>.</summary>
        /// <param name="text">The file's text.</param>
        /// <param name="file">The file as the attribute names it, for messages.</param>
        /// <param name="className">The attributed class's name: a task path may not be named like it.</param>
        /// <param name="location">Where diagnostics point (the attribute's argument).</param>
        /// <returns>The spec, or <c>null</c> and at least one diagnostic.</returns>
        public static (ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics) Parse(string text, string file, string className, LocationInfo? location)
        {
            var parser = new ModelSpecParser(file, className, location);
            ModelSpec? spec = null;
            try
            {
                spec = parser.ParseDocument(text);
            }
            catch (ModelError e)
            {
                parser.Report(DiagnosticDescriptors.UnsupportedModel, file, e.Message);
            }
            if (parser._diagnostics.Count > 0) spec = null;
            return (spec, parser._diagnostics.ToEquatableArray());
        }

        private ModelSpec? ParseDocument(string text)
        {
            JsonNode root;
            try
            {
                root = JsonReader.Parse(text);
            }
            catch (JsonParseException e)
            {
                Report(DiagnosticDescriptors.InvalidJson, _file, e.Reason,
                    e.Line.ToString(CultureInfo.InvariantCulture), e.Column.ToString(CultureInfo.InvariantCulture));
                return null;
            }

            if (!(root is JsonObject obj)) throw new ModelError($"expected a JSON object at the top level, found {root.KindName}");
            if (obj.Has("schema")) return ParseProfile(obj);
            if (obj.Has("hidden_size")) return ParseHuggingFaceConfig(obj);
            throw new ModelError("it is neither a FiRST profile (no \"schema\") nor a Hugging Face Llama config.json (no \"hidden_size\")");
        }

        private ModelSpec? ParseProfile(JsonObject root)
        {
            // The runtime's System.Text.Json reader refuses deeper documents; this reader allows more for config.json.
            if (DepthOf(root, 1) > ProfileSchema.MaxJsonDepth)
                throw new ModelError($"objects and arrays are nested deeper than {ProfileSchema.MaxJsonDepth} levels");

            var schema = root.Get("schema");
            if (!(schema is JsonString s) || !ProfileSchema.IsKnownVersion(s.Value))
                throw new ModelError($"schema {Show(schema)} is not supported; this generator reads \"{ProfileSchema.VersionV1}\" and \"{ProfileSchema.Version}\"");

            if (!(root.Get("model") is JsonObject model)) throw new ModelError($"\"model\" must be an object, found {KindOf(root.Get("model"))}");
            var architecture = model.Get("architecture");
            if (!(architecture is JsonString a) || a.Value != ProfileSchema.Architecture)
                throw new ModelError($"model.architecture {Show(architecture)} is not supported; expected \"{ProfileSchema.Architecture}\"");

            var spec = Validate(new ModelSpec(
                IsProfile: true,
                Dim: RequiredInt(model, "dim", "model."),
                HiddenDim: RequiredInt(model, "hidden_dim", "model."),
                NLayers: RequiredInt(model, "n_layers", "model."),
                NHeads: RequiredInt(model, "n_heads", "model."),
                NKvHeads: RequiredInt(model, "n_kv_heads", "model."),
                VocabSize: RequiredInt(model, "vocab_size", "model."),
                MaxSeqLen: RequiredInt(model, "max_seq_len", "model."),
                NormEps: OptionalFloat(model, "norm_eps", "model.", 1e-5f),
                RopeTheta: OptionalFloat(model, "rope_theta", "model.", 10000f),
                RopeScaling: RopeScalingParser.ReadProfile(model, s.Value),
                SharedClassifier: OptionalBool(model, "shared_classifier", "model.", true),
                Tasks: EquatableArray<TaskSpec>.Empty));

            CheckRouters(root.Get("routers"));

            if (!(root.Get("tasks") is JsonArray tasks))
                throw new ModelError($"\"tasks\" must be an array (it may be empty), found {KindOf(root.Get("tasks"))}");
            return spec with { Tasks = ParseTasks(tasks, spec.NLayers, s.Value) };
        }

        private ModelSpec ParseHuggingFaceConfig(JsonObject root)
        {
            // The same checks as FiRST.Runtime's HuggingFaceConfig reader, so a config the build accepts loads.
            var modelType = root.Get("model_type");
            if (modelType != null && !(modelType is JsonString mt && mt.Value == "llama"))
                throw new ModelError($"model_type {Show(modelType)} is not supported; expected \"llama\"");
            // Keys that change the math and have one supported value: refused otherwise, never ignored.
            var act = root.Get("hidden_act");
            if (act != null && !(act is JsonNull) && !(act is JsonString silu && silu.Value == "silu"))
                throw new ModelError($"hidden_act {Show(act)} is not supported; expected \"silu\"");
            foreach (var bias in new[] { "attention_bias", "mlp_bias" })
                if (ConfigBool(root, bias, false))
                    throw new ModelError($"{bias} is not supported; expected false");
            if (OptionalInt(root, "pretraining_tp") is int tp && tp > 1)
                throw new ModelError($"pretraining_tp {tp} is not supported; expected 1");
            var torchDtype = root.Get("torch_dtype");
            var dtype = root.Get("dtype");
            foreach (var node in new[] { torchDtype, dtype })
                if (node != null && !(node is JsonNull) && !(node is JsonString))
                    throw new ModelError($"{(node == dtype ? "dtype" : "torch_dtype")} must be a string, found {node.KindName}");
            if (torchDtype is JsonString td && dtype is JsonString d && td.Value != d.Value)
                throw new ModelError($"dtype \"{Clip(d.Value)}\" disagrees with torch_dtype \"{Clip(td.Value)}\"");
            var (ropeTheta, ropeScaling) = RopeScalingParser.ReadHuggingFace(root);

            int heads = RequiredInt(root, "num_attention_heads", "");
            var spec = Validate(new ModelSpec(
                IsProfile: false,
                Dim: RequiredInt(root, "hidden_size", ""),
                HiddenDim: RequiredInt(root, "intermediate_size", ""),
                NLayers: RequiredInt(root, "num_hidden_layers", ""),
                NHeads: heads,
                NKvHeads: OptionalInt(root, "num_key_value_heads") ?? heads,
                VocabSize: RequiredInt(root, "vocab_size", ""),
                MaxSeqLen: RequiredInt(root, "max_position_embeddings", ""),
                NormEps: OptionalFloat(root, "rms_norm_eps", "", 1e-6f),
                RopeTheta: ropeTheta,
                RopeScaling: ropeScaling,
                SharedClassifier: ConfigBool(root, "tie_word_embeddings", false),
                Tasks: EquatableArray<TaskSpec>.Empty));
            if (OptionalInt(root, "head_dim") is int headDim && headDim != spec.HeadSize)
                throw new ModelError($"head_dim {headDim} is not supported; expected hidden_size / num_attention_heads = {spec.HeadSize}");
            return spec;
        }

        /// <summary>The checks of <c>ModelConfig.Validate</c>.</summary>
        private static ModelSpec Validate(ModelSpec m)
        {
            Bounded("dim", m.Dim, ProfileSchema.MaxDimension);
            Bounded("hidden_dim", m.HiddenDim, ProfileSchema.MaxDimension);
            Bounded("n_layers", m.NLayers, ProfileSchema.MaxLayers);
            Bounded("n_heads", m.NHeads, ProfileSchema.MaxDimension);
            Bounded("n_kv_heads", m.NKvHeads, ProfileSchema.MaxDimension);
            Bounded("vocab_size", m.VocabSize, ProfileSchema.MaxDimension);
            Bounded("max_seq_len", m.MaxSeqLen, ProfileSchema.MaxDimension);
            if (m.Dim % m.NHeads != 0) throw new ModelError($"dim {m.Dim} is not divisible by n_heads {m.NHeads}");
            if (m.HeadSize % 2 != 0) throw new ModelError($"head size {m.HeadSize} (dim / n_heads) must be even for rotary embeddings");
            if (m.NKvHeads > m.NHeads || m.NHeads % m.NKvHeads != 0)
                throw new ModelError($"n_heads {m.NHeads} must be a multiple of n_kv_heads {m.NKvHeads}");
            if (!(m.NormEps > 0 && m.NormEps < 1))
                throw new ModelError($"norm_eps must be a small positive number, got {m.NormEps.ToString("R", CultureInfo.InvariantCulture)}");
            if (!(m.RopeTheta > 1 && !float.IsInfinity(m.RopeTheta)))
                throw new ModelError($"rope_theta must be a finite number above 1, got {m.RopeTheta.ToString("R", CultureInfo.InvariantCulture)}");
            return m;
        }

        private static void Bounded(string name, int value, int max)
        {
            if (value <= 0 || value > max) throw new ModelError($"{name} must be between 1 and {max}, got {value}");
        }

        private EquatableArray<TaskSpec> ParseTasks(JsonArray tasks, int layers, string schema)
        {
            var result = new List<TaskSpec>();
            var rawNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var pascalNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < tasks.Items.Count; i++)
            {
                string where = $"tasks[{i}]";
                if (!(tasks.Items[i] is JsonObject task)) throw new ModelError($"{where} must be an object, found {tasks.Items[i].KindName}");

                string? name = ParseName(task, where, rawNames, pascalNames, out string? pascal);
                string label = name ?? where;
                var kept = ParseKeptLayers(task, label, layers);
                if (kept != null)
                {
                    CheckSkippedLayers(task, label, layers, kept);
                    CheckMeanP(task, label, layers);
                }
                CheckMeasurements(task, label);
                var earlyExit = ParseEarlyExit(task, label, layers, schema);
                var speculation = ParseSpeculation(task, label, kept, schema);
                if (name != null && pascal != null && kept != null && kept.Length > 0)
                    result.Add(new TaskSpec(name, pascal, new EquatableArray<int>(kept), earlyExit, speculation));
            }
            return result.ToEquatableArray();
        }

        private string? ParseName(JsonObject task, string where, Dictionary<string, string> rawNames, Dictionary<string, string> pascalNames, out string? pascal)
        {
            pascal = null;
            var node = task.Get("name");
            if (!(node is JsonString s))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, "of " + where, _file,
                    node is null ? "\"name\" is missing" : $"\"name\" must be a string, found {node.KindName}");
                return null;
            }
            string name = s.Value;
            string shown = "'" + Clip(name) + "'";
            if (name.Length > ProfileSchema.MaxTaskNameLength)
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"it is longer than {ProfileSchema.MaxTaskNameLength} characters");
                return name;
            }
            if (!ProfileSchema.IsTaskName(name))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, "it is not a C# identifier (ASCII letters, digits and '_', not starting with a digit)");
                return name;
            }
            string converted = ProfileSchema.TaskMemberName(name);
            if (converted.Length == 0)
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, "it has no letter or digit to name the generated members after");
                return name;
            }
            if (rawNames.TryGetValue(name, out string? first))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"it repeats the task '{Clip(first)}' (names are compared ignoring case)");
                return name;
            }
            rawNames.Add(name, name);
            if (pascalNames.TryGetValue(converted, out string? clash))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"it becomes '{converted}' in C#, like the task '{Clip(clash)}'");
                return name;
            }
            // A task's draft half is named after it (ProfileSchema.Members.DraftPathSuffix), so a pair such as
            // copy and copy_draft would give two classes CopyDraftPath; checked both ways, as either may come first.
            if (pascalNames.TryGetValue(converted + ProfileSchema.Members.Draft, out clash))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"its draft half would be '{converted}{ProfileSchema.Members.DraftPathSuffix}', the path class of the task '{Clip(clash)}'");
                return name;
            }
            if (converted.EndsWith(ProfileSchema.Members.Draft, StringComparison.OrdinalIgnoreCase)
                && pascalNames.TryGetValue(converted.Substring(0, converted.Length - ProfileSchema.Members.Draft.Length), out clash))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"its path class '{converted}{ProfileSchema.Members.PathSuffix}' would be the draft half of the task '{Clip(clash)}'");
                return name;
            }
            pascalNames.Add(converted, name);
            if (string.Equals(converted, ProfileSchema.Members.Full, StringComparison.OrdinalIgnoreCase))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"its path class would clash with the generated {ProfileSchema.Members.FullPath} (all layers); rename the task");
                return name;
            }
            if (string.Equals(converted + ProfileSchema.Members.PathSuffix, _className, StringComparison.Ordinal))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"its path class '{converted}{ProfileSchema.Members.PathSuffix}' would have the name of the class it is nested in");
                return name;
            }
            if (string.Equals(converted + ProfileSchema.Members.DraftPathSuffix, _className, StringComparison.Ordinal))
            {
                Report(DiagnosticDescriptors.InvalidTaskName, shown, _file, $"its draft half '{converted}{ProfileSchema.Members.DraftPathSuffix}' would have the name of the class it is nested in");
                return name;
            }
            pascal = converted;
            return name;
        }

        private int[]? ParseKeptLayers(JsonObject task, string label, int layers)
        {
            var node = task.Get("kept_layers");
            if (!(node is JsonArray array))
            {
                ReportMask(label, node is null ? "kept_layers is missing" : $"kept_layers must be an array, found {node.KindName}");
                return null;
            }
            if (array.Items.Count == 0)
            {
                Report(DiagnosticDescriptors.EmptyMask, Clip(label), _file);
                return null;
            }
            var kept = ReadLayerList(array, "kept_layers", label, layers);
            if (kept == null) return null;
            for (int i = 1; i < kept.Length; i++)
            {
                if (kept[i] == kept[i - 1])
                {
                    ReportMask(label, $"kept_layers lists layer {kept[i]} twice");
                    return null;
                }
                if (kept[i] < kept[i - 1])
                {
                    ReportMask(label, $"kept_layers must be ascending, but {kept[i]} follows {kept[i - 1]}");
                    return null;
                }
            }
            return kept;
        }

        private void CheckSkippedLayers(JsonObject task, string label, int layers, int[] kept)
        {
            var node = task.Get("skipped_layers");
            if (node is null || node is JsonNull) return;
            if (!(node is JsonArray array))
            {
                ReportMask(label, $"skipped_layers must be an array, found {node.KindName}");
                return;
            }
            var skipped = ReadLayerList(array, "skipped_layers", label, layers);
            if (skipped == null) return;
            var isKept = new bool[layers];
            foreach (int l in kept) isKept[l] = true;
            var expected = new List<int>();
            for (int l = 0; l < layers; l++) if (!isKept[l]) expected.Add(l);
            // Compared in order, as the runtime does: the writer lists the complement ascending.
            var actual = new List<int>(skipped);
            bool same = actual.Count == expected.Count;
            for (int i = 0; same && i < actual.Count; i++) same = actual[i] == expected[i];
            if (!same)
                ReportMask(label, $"skipped_layers [{Join(skipped)}] is not the complement of kept_layers (expected [{Join(expected)}])");
        }

        private void CheckMeanP(JsonObject task, string label, int layers)
        {
            var node = task.Get("mean_p");
            if (node is null || node is JsonNull) return;
            if (!(node is JsonArray array))
            {
                ReportMask(label, $"mean_p must be an array, found {node.KindName}");
                return;
            }
            if (array.Items.Count != layers)
            {
                ReportMask(label, $"mean_p has {array.Items.Count} entries but the model has {layers} layers");
                return;
            }
            for (int i = 0; i < array.Items.Count; i++)
                if (!(array.Items[i] is JsonNumber))
                {
                    ReportMask(label, $"mean_p[{i}] must be a number, found {array.Items[i].KindName}");
                    return;
                }
        }

        /// <summary>
        /// The task's <c>early_exit</c>, with the runtime's rules: <c>n_layers</c> entries, each null or a
        /// number in (0, 1] (<see cref="ProfileSchema.IsExitThreshold"/>), one set at least. Absent or null: none.
        /// </summary>
        private EarlyExitSpec? ParseEarlyExit(JsonObject task, string label, int layers, string schema)
        {
            string field = ProfileSchema.Fields.EarlyExit;
            var node = V2Field(task, field, DiagnosticDescriptors.InvalidEarlyExit, label, schema);
            if (node is null) return null;
            if (!(node is JsonObject obj))
            {
                ReportEarlyExit(label, $"{field} must be an object with {ProfileSchema.Fields.Thresholds}, found {node.KindName}");
                return null;
            }
            field += "." + ProfileSchema.Fields.Thresholds;
            var list = obj.Get(ProfileSchema.Fields.Thresholds);
            if (!(list is JsonArray array))
            {
                ReportEarlyExit(label, list is null ? $"{field} is missing" : $"{field} must be an array, found {list.KindName}");
                return null;
            }
            if (array.Items.Count != layers)
            {
                ReportEarlyExit(label, $"{field} has {array.Items.Count} entries but the model has {layers} layers; expected one per layer");
                return null;
            }
            var thresholds = new ExitThreshold[layers];
            bool any = false;
            for (int l = 0; l < layers; l++)
            {
                var item = array.Items[l];
                if (item is JsonNull) continue;
                if (!(item is JsonNumber n) || !ProfileSchema.IsExitThreshold(n.Value))
                {
                    ReportEarlyExit(label, $"{field}[{l}] must be null or a number in (0, 1], found {Show(item)}");
                    return null;
                }
                thresholds[l] = new ExitThreshold((float)n.Value);
                any = true;
            }
            if (!any)
            {
                ReportEarlyExit(label, $"every entry of {field} is null; set a threshold after one layer at least, or leave {ProfileSchema.Fields.EarlyExit} out");
                return null;
            }
            return new EarlyExitSpec(new EquatableArray<ExitThreshold>(thresholds));
        }

        /// <summary>
        /// The task's <c>speculation</c>, with the runtime's rules: <c>draft_layers</c> from 1 to the kept layers
        /// less one (when the mask is valid; otherwise only from 1), <c>lookahead</c> from 1 to
        /// <see cref="ProfileSchema.MaxLookahead"/>. Absent or null: none.
        /// </summary>
        private SpeculationSpec? ParseSpeculation(JsonObject task, string label, int[]? kept, string schema)
        {
            string field = ProfileSchema.Fields.Speculation;
            var node = V2Field(task, field, DiagnosticDescriptors.InvalidSpeculation, label, schema);
            if (node is null) return null;
            if (!(node is JsonObject obj))
            {
                ReportSpeculation(label, $"{field} must be an object with {ProfileSchema.Fields.DraftLayers} and {ProfileSchema.Fields.Lookahead}, found {node.KindName}");
                return null;
            }
            string draftField = field + "." + ProfileSchema.Fields.DraftLayers;
            var draftNode = obj.Get(ProfileSchema.Fields.DraftLayers);
            if (!(draftNode is JsonNumber d) || !TryGetInt(d, out int draft))
            {
                ReportSpeculation(label, draftNode is null ? $"{draftField} is missing" : $"{draftField} must be an integer, found {Show(draftNode)}");
                return null;
            }
            if (kept != null && kept.Length < 2)
            {
                ReportSpeculation(label, $"the task keeps {kept.Length} layer, so none is left to verify a draft; speculation needs 2 kept layers at least");
                return null;
            }
            if (draft < 1 || (kept != null && draft >= kept.Length))
            {
                ReportSpeculation(label, kept is null
                    ? $"{draftField} must be 1 or more, found {draft}"
                    : $"{draftField} must be from 1 to {kept.Length - 1} (the draft runs the first E of the task's {kept.Length} kept layers, and one must be left to verify), found {draft}");
                return null;
            }
            string lookaheadField = field + "." + ProfileSchema.Fields.Lookahead;
            var lookaheadNode = obj.Get(ProfileSchema.Fields.Lookahead);
            if (!(lookaheadNode is JsonNumber k) || !TryGetInt(k, out int lookahead))
            {
                ReportSpeculation(label, lookaheadNode is null ? $"{lookaheadField} is missing" : $"{lookaheadField} must be an integer, found {Show(lookaheadNode)}");
                return null;
            }
            if (lookahead < 1 || lookahead > ProfileSchema.MaxLookahead)
            {
                ReportSpeculation(label, $"{lookaheadField} must be from 1 to {ProfileSchema.MaxLookahead} drafted tokens per round, found {lookahead}");
                return null;
            }
            return new SpeculationSpec(draft, lookahead);
        }

        /// <summary>
        /// The task's <c>first.profile/2</c> field <paramref name="name"/>, or <c>null</c> when absent or null. In a
        /// <c>first.profile/1</c> file the field is reported (with <paramref name="descriptor"/>) rather than ignored:
        /// ignoring it would build a program without what the file asks for.
        /// </summary>
        private JsonNode? V2Field(JsonObject task, string name, DiagnosticDescriptor descriptor, string label, string schema)
        {
            var node = task.Get(name);
            if (node is null || node is JsonNull) return null;
            if (schema == ProfileSchema.Version) return node;
            Report(descriptor, Clip(label), _file, $"{name} needs schema \"{ProfileSchema.Version}\"; this file is \"{schema}\"");
            return null;
        }

        private void ReportEarlyExit(string label, string reason) => Report(DiagnosticDescriptors.InvalidEarlyExit, Clip(label), _file, reason);

        private void ReportSpeculation(string label, string reason) => Report(DiagnosticDescriptors.InvalidSpeculation, Clip(label), _file, reason);

        /// <summary>
        /// The routers reference: the generator does not use it, but a profile the runtime would refuse to load
        /// must not build, so it gets the runtime's checks.
        /// </summary>
        private static void CheckRouters(JsonNode? node)
        {
            if (node is null || node is JsonNull) return;
            if (!(node is JsonObject routers)) throw new ModelError($"\"routers\" must be an object with file and threshold, found {node.KindName}");
            if (!(routers.Get("file") is JsonString))
                throw new ModelError($"routers.file must be a string, found {KindOf(routers.Get("file"))}");
            var threshold = routers.Get("threshold");
            if (threshold is null || threshold is JsonNull) return;
            if (!(threshold is JsonNumber t) || t.Value < 0 || t.Value > 1)
                throw new ModelError($"routers.threshold must be a number in [0, 1], found {Show(threshold)}");
        }

        /// <summary>
        /// Calibration's measurements: unused by generated code, checked as the runtime checks them so both
        /// accept the same files. Optional; <c>null</c> counts as absent.
        /// </summary>
        private void CheckMeasurements(JsonObject task, string label)
        {
            foreach (string share in new[] { "accuracy_full", "accuracy_masked", "agreement" })
            {
                var node = task.Get(share);
                if (node is null || node is JsonNull) continue;
                if (!(node is JsonNumber n) || n.Value < 0 || n.Value > 1)
                    Report(DiagnosticDescriptors.UnsupportedModel, _file, $"task '{Clip(label)}': {share} must be a share in [0, 1], found {Show(node)}");
            }
            foreach (string number in new[] { "ms_per_token_full", "ms_per_token_masked", "speedup" })
            {
                var node = task.Get(number);
                if (node is null || node is JsonNull || node is JsonNumber) continue;
                Report(DiagnosticDescriptors.UnsupportedModel, _file, $"task '{Clip(label)}': {number} must be a number, found {Show(node)}");
            }
            var prompts = task.Get("prompts");
            if (prompts != null && !(prompts is JsonNull) && !(prompts is JsonNumber p && TryGetInt(p, out int count) && count >= 0))
                Report(DiagnosticDescriptors.UnsupportedModel, _file, $"task '{Clip(label)}': prompts must be a count, found {Show(prompts)}");
        }

        /// <summary>Nesting depth of <paramref name="node"/>, counting objects and arrays as System.Text.Json does.</summary>
        private static int DepthOf(JsonNode node, int depth)
        {
            int deepest = depth;
            if (node is JsonObject obj)
            {
                foreach (var value in obj.Values)
                    if (value is JsonObject || value is JsonArray)
                        deepest = Math.Max(deepest, DepthOf(value, depth + 1));
            }
            else if (node is JsonArray array)
            {
                foreach (var item in array.Items)
                    if (item is JsonObject || item is JsonArray)
                        deepest = Math.Max(deepest, DepthOf(item, depth + 1));
            }
            return deepest;
        }

        /// <summary>Reads a list of layer indices, each in <c>[0, layers)</c>; reports the first bad one.</summary>
        private int[]? ReadLayerList(JsonArray array, string field, string label, int layers)
        {
            var result = new int[array.Items.Count];
            for (int i = 0; i < result.Length; i++)
            {
                var item = array.Items[i];
                if (!(item is JsonNumber n) || !TryGetInt(n, out int layer))
                {
                    ReportMask(label, $"{field}[{i}] must be a layer index, found {Show(item)}");
                    return null;
                }
                if (layer < 0 || layer >= layers)
                {
                    ReportMask(label, $"{field}[{i}] is layer {layer}, outside [0, {layers}) (n_layers is {layers})");
                    return null;
                }
                result[i] = layer;
            }
            return result;
        }

        private static int RequiredInt(JsonObject obj, string name, string prefix)
        {
            var node = obj.Get(name);
            if (node is null) throw new ModelError($"{prefix}{name} is missing");
            if (!(node is JsonNumber n) || !TryGetInt(n, out int value))
                throw new ModelError($"{prefix}{name} must be a 32-bit integer, found {Show(node)}");
            return value;
        }

        /// <summary>An optional integer of a config.json: absent and null (transformers' None) are both "not set".</summary>
        private static int? OptionalInt(JsonObject obj, string name)
        {
            var node = obj.Get(name);
            if (node is null || node is JsonNull) return null;
            return RequiredInt(obj, name, "");
        }

        /// <summary>An optional boolean of a config.json, null counting as absent (a profile's may not be null).</summary>
        private static bool ConfigBool(JsonObject obj, string name, bool fallback) =>
            obj.Get(name) is JsonNull ? fallback : OptionalBool(obj, name, "", fallback);

        private static float OptionalFloat(JsonObject obj, string name, string prefix, float fallback)
        {
            var node = obj.Get(name);
            if (node is null) return fallback;
            if (!(node is JsonNumber n)) throw new ModelError($"{prefix}{name} must be a number, found {Show(node)}");
            return (float)n.Value;
        }

        private static bool OptionalBool(JsonObject obj, string name, string prefix, bool fallback)
        {
            var node = obj.Get(name);
            if (node is null) return fallback;
            if (!(node is JsonBool b)) throw new ModelError($"{prefix}{name} must be true or false, found {Show(node)}");
            return b.Value;
        }

        private static bool TryGetInt(JsonNumber n, out int value)
        {
            value = 0;
            return n.IsIntegerLiteral && int.TryParse(n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        }

        private void ReportMask(string label, string reason) => Report(DiagnosticDescriptors.InvalidMask, Clip(label), _file, reason);

        private void Report(DiagnosticDescriptor descriptor, params string[] args)
            => _diagnostics.Add(DiagnosticInfo.Create(descriptor, _location, args));

        private static string KindOf(JsonNode? node) => node is null ? "nothing" : node.KindName;

        private static string Show(JsonNode? node)
        {
            switch (node)
            {
                case null: return "(missing)";
                case JsonString s: return "\"" + Clip(s.Value) + "\"";
                case JsonNumber n: return Clip(n.Text);
                default: return node.KindName;
            }
        }

        private static string Join(IEnumerable<int> values) => string.Join(", ", values);

        /// <summary>Keeps messages short when a file holds a very long value.</summary>
        private static string Clip(string s) => s.Length <= 60 ? s : s.Substring(0, 60) + "…";
    }
}
