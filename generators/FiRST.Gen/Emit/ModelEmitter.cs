using System.Collections.Generic;
using System.Globalization;
using System.Text;
using FiRST.Gen.Model;
using M = FiRST.Schema.ProfileSchema.Members;

namespace FiRST.Gen.Emit
{
    /// <summary>
    /// Writes the generated part of a <c>[FiRSTModel]</c> class: constants, the runtime configuration, the shape
    /// struct, the task enum, one compiled decode path per task (with its draft half when the profile has a
    /// speculation plan, and its early-exit thresholds when it has those) plus the full-depth path, the weight
    /// manifest and the path table. Plain text rather than syntax trees: the output is fixed in shape and easier to read here.
    /// Every type is written <c>global::</c>-qualified so the user's usings and names cannot change its meaning,
    /// and every public member is documented so consumers with GenerateDocumentationFile stay warning-free.
    /// </summary>
    internal static class ModelEmitter
    {
        private const string Runtime = "global::FiRST.Runtime";
        private const string IDecodePath = Runtime + ".Paths.IDecodePath";
        private const string ReadOnlyIntList = "global::System.Collections.Generic.IReadOnlyList<int>";

        /// <summary>The generated source for <paramref name="target"/> from <paramref name="spec"/>.</summary>
        /// <param name="target">The attributed class.</param>
        /// <param name="spec">The validated model.</param>
        /// <param name="sourcePath">The attribute's path, named in the header.</param>
        /// <param name="profileHash">The profile's fingerprint, named in the header.</param>
        public static string Emit(ModelTarget target, ModelSpec spec, string sourcePath, string profileHash)
        {
            var w = new SourceWriter();
            GeneratedHeader.Write(w, sourcePath, profileHash);
            w.Line("#nullable enable");
            w.Line();
            bool hasNamespace = target.Namespace.Length > 0;
            if (hasNamespace)
            {
                w.Line("namespace " + target.Namespace);
                w.Open();
            }

            var modifiers = new StringBuilder();
            if (target.Accessibility.Length > 0) modifiers.Append(target.Accessibility).Append(' ');
            if (target.IsStatic) modifiers.Append("static ");
            w.Line(modifiers + "partial " + target.Keyword + " " + target.ClassName);
            w.Open();
            WriteConstants(w, spec);
            WriteConfig(w, spec);
            WriteShape(w, spec);
            if (spec.IsProfile) WriteTaskEnum(w, spec);
            var used = UsedLayers(spec);
            WriteManifest(w, spec, used);
            if (spec.IsProfile) WritePathFor(w, spec);
            WritePathTable(w, spec);
            foreach (var task in spec.Tasks)
            {
                w.Line();
                WritePath(w, spec, task.PascalName + M.PathSuffix, task.KeptLayers, task, used);
                if (task.Speculation != null)
                {
                    w.Line();
                    WriteDraftPath(w, spec, task, task.Speculation);
                }
            }
            w.Line();
            WritePath(w, spec, M.FullPath, AllLayers(spec.NLayers), null, used);
            w.Close();

            if (hasNamespace) w.Close();
            return w.ToString();
        }

        private static void WriteConstants(SourceWriter w, ModelSpec spec)
        {
            Const(w, "int", M.Dim, Int(spec.Dim), "Width of the residual stream (hidden size).");
            Const(w, "int", M.HiddenDim, Int(spec.HiddenDim), "Width of the SwiGLU feed-forward layer (intermediate size).");
            Const(w, "int", M.NLayers, Int(spec.NLayers), "Number of transformer layers.");
            Const(w, "int", M.NHeads, Int(spec.NHeads), "Number of query heads.");
            Const(w, "int", M.NKvHeads, Int(spec.NKvHeads), "Number of key/value heads (grouped-query attention when smaller than <see cref=\"" + M.NHeads + "\"/>).");
            Const(w, "int", M.HeadSize, Int(spec.HeadSize), "Dimension of one attention head: <c>" + M.Dim + " / " + M.NHeads + "</c>.");
            Const(w, "int", M.KvDim, Int(spec.KvDim), "Width of the key and value projections: <c>" + M.NKvHeads + " * " + M.HeadSize + "</c>.");
            Const(w, "int", M.VocabSize, Int(spec.VocabSize), "Vocabulary size.");
            Const(w, "int", M.MaxSeqLen, Int(spec.MaxSeqLen), "Longest sequence (prompt plus generated tokens) the model may process.");
            Const(w, "float", M.NormEps, Float(spec.NormEps), "Epsilon added inside RMSNorm.");
            Const(w, "float", M.RopeTheta, Float(spec.RopeTheta), "Base of the rotary position embedding frequencies.");
            // Only a scaled model gets these: an unscaled one's generated code stays as it was before scaling existed.
            var rope = spec.RopeScaling;
            if (rope.IsScaled)
            {
                bool llama3 = rope.Type == FiRST.Schema.ProfileSchema.Rope.Llama3;
                Const(w, Runtime + ".RopeScalingType", M.RopeScalingType, Runtime + ".RopeScalingType." + (llama3 ? "Llama3" : "Linear"),
                      "How the rotary frequencies are scaled (<c>" + rope.Type + "</c>); the runtime computes the scaled frequencies once at load.");
                Const(w, "double", M.RopeScalingFactor, Double(rope.Factor), "The factor the rotary frequencies are divided by" + (llama3 ? " (the low ones fully, the middle ones in part)." : "."));
                if (llama3)
                {
                    Const(w, "double", M.RopeLowFreqFactor, Double(rope.LowFreqFactor), "Wavelengths above <c>" + M.RopeOriginalMaxPositionEmbeddings + " / " + M.RopeLowFreqFactor + "</c> are fully scaled.");
                    Const(w, "double", M.RopeHighFreqFactor, Double(rope.HighFreqFactor), "Wavelengths below <c>" + M.RopeOriginalMaxPositionEmbeddings + " / " + M.RopeHighFreqFactor + "</c> are kept.");
                    Const(w, "int", M.RopeOriginalMaxPositionEmbeddings, Int(rope.OriginalMaxPositionEmbeddings), "The context length the model was pretrained with.");
                }
            }
            Const(w, "bool", M.SharedClassifier, spec.SharedClassifier ? "true" : "false", "True when the classifier shares its weights with the token embedding.");
        }

        private static void Const(SourceWriter w, string type, string name, string value, string doc)
        {
            w.Line("/// <summary>" + doc + "</summary>");
            w.Line("public const " + type + " " + name + " = " + value + ";");
            w.Line();
        }

        private static void WriteConfig(SourceWriter w, ModelSpec spec)
        {
            w.Line("/// <summary>The model's shape as a runtime configuration, built from the constants above.</summary>");
            w.Line("public static " + Runtime + ".ModelConfig " + M.Config + " { get; } = new()");
            w.Open();
            // Left: ModelConfig's property (runtime API); right: the generated constant (schema name). They are
            // spelled alike today, but only the right side moves if a generated member is renamed.
            string[,] assignments =
            {
                { "Dim", M.Dim }, { "HiddenDim", M.HiddenDim }, { "NLayers", M.NLayers }, { "NHeads", M.NHeads },
                { "NKvHeads", M.NKvHeads }, { "VocabSize", M.VocabSize }, { "MaxSeqLen", M.MaxSeqLen },
                { "NormEps", M.NormEps }, { "RopeTheta", M.RopeTheta }, { "SharedClassifier", M.SharedClassifier },
            };
            for (int i = 0; i < assignments.GetLength(0); i++)
                w.Line(assignments[i, 0] + " = " + assignments[i, 1] + ",");
            if (spec.RopeScaling.IsScaled)
            {
                w.Line("RopeScaling = new " + Runtime + ".RopeScaling");
                w.Open();
                w.Line("Type = " + M.RopeScalingType + ",");
                w.Line("Factor = " + M.RopeScalingFactor + ",");
                if (spec.RopeScaling.Type == FiRST.Schema.ProfileSchema.Rope.Llama3)
                {
                    w.Line("LowFreqFactor = " + M.RopeLowFreqFactor + ",");
                    w.Line("HighFreqFactor = " + M.RopeHighFreqFactor + ",");
                    w.Line("OriginalMaxPositionEmbeddings = " + M.RopeOriginalMaxPositionEmbeddings + ",");
                }
                w.Close(",");
            }
            w.Close(";");
        }

        private static void WriteShape(SourceWriter w, ModelSpec spec)
        {
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// The shape as a type: the runtime's compiled decoder is generic over it, so every size is a constant");
            w.Line("/// where the JIT or the AOT compiler builds that decoder for this model.");
            w.Line("/// </summary>");
            w.Line("public readonly struct " + M.Shape + " : " + Runtime + ".Paths.IModelShape");
            w.Open();
            // Literals, not the class's constants: inside the struct those names are its own members.
            string[,] members =
            {
                { "Dim", Int(spec.Dim) }, { "HiddenDim", Int(spec.HiddenDim) }, { "NLayers", Int(spec.NLayers) },
                { "NHeads", Int(spec.NHeads) }, { "NKvHeads", Int(spec.NKvHeads) }, { "VocabSize", Int(spec.VocabSize) },
                { "MaxSeqLen", Int(spec.MaxSeqLen) },
            };
            for (int i = 0; i < members.GetLength(0); i++)
            {
                if (i > 0) w.Line();
                w.Line("/// <inheritdoc />");
                w.Line("public static int " + members[i, 0] + " => " + members[i, 1] + ";");
            }
            w.Close();
        }

        private static void WriteTaskEnum(SourceWriter w, ModelSpec spec)
        {
            w.Line();
            w.Line("/// <summary>The tasks of the profile; <see cref=\"" + M.PathFor + "\"/> gives each one's decode path.</summary>");
            w.Line("public enum " + M.Task);
            w.Open();
            foreach (var task in spec.Tasks)
            {
                w.Line("/// <summary>Task <c>" + task.Name + "</c>: keeps " + Int(task.KeptLayers.Count) + " of " + Int(spec.NLayers) + " layers.</summary>");
                w.Line(task.PascalName + ",");
            }
            w.Close();
        }

        /// <summary>
        /// The layers the binary can run: a profile's binary only ever runs its tasks' layers, so only those are
        /// loaded; a bare config (or a profile without tasks) has only the full path, which needs them all.
        /// </summary>
        private static SortedSet<int> UsedLayers(ModelSpec spec)
        {
            var used = new SortedSet<int>();
            foreach (var task in spec.Tasks)
                foreach (int layer in task.KeptLayers) used.Add(layer);
            if (spec.Tasks.Count == 0)
                for (int l = 0; l < spec.NLayers; l++) used.Add(l);
            return used;
        }

        private static void WriteManifest(SourceWriter w, ModelSpec spec, SortedSet<int> used)
        {
            bool all = used.Count == spec.NLayers;
            w.Line();
            w.Line("/// <summary>");
            if (spec.Tasks.Count == 0)
            {
                w.Line("/// Every layer, ascending: without tasks the only path is <see cref=\"" + M.FullPath + "\"/>, which needs them all.");
            }
            else
            {
                w.Line("/// The layers some task keeps, ascending: the only layers <see cref=\"" + M.LoadOptions + "\"/> loads. Weights of");
                w.Line("/// other layers are never mapped.");
            }
            w.Line("/// </summary>");
            w.Line("public static global::System.Collections.Generic.IReadOnlyList<int> " + M.UsedLayers + " { get; } =");
            w.Line("    global::System.Array.AsReadOnly(new int[] { " + Join(used) + " });");
            w.Line();
            w.Line("/// <summary>");
            if (all)
            {
                w.Line("/// Options that load <see cref=\"" + M.UsedLayers + "\"/>, here every layer: enough for every generated path.");
            }
            else
            {
                w.Line("/// Options that load only <see cref=\"" + M.UsedLayers + "\"/>. A model loaded with them runs every task path but");
                w.Line("/// not <see cref=\"" + M.FullPath + "\"/>, which needs all layers (load with <c>new ModelLoadOptions()</c>).");
            }
            w.Line("/// </summary>");
            w.Line("/// <param name=\"format\">The weight format to run with.</param>");
            w.Line("/// <returns>Options for <see cref=\"" + Runtime + ".LlamaModel.Load\"/>.</returns>");
            w.Line("public static " + Runtime + ".ModelLoadOptions " + M.LoadOptions + "(" + Runtime + ".WeightFormat format = " + Runtime + ".WeightFormat.AsStored) => new()");
            w.Open();
            w.Line("Layers = " + Runtime + ".LayerMask.FromKept(" + M.NLayers + ", " + M.UsedLayers + "),");
            w.Line("Format = format,");
            w.Close(";");
        }

        private static void WritePathFor(SourceWriter w, ModelSpec spec)
        {
            w.Line();
            w.Line("/// <summary>The decode path of <paramref name=\"task\"/>.</summary>");
            w.Line("/// <param name=\"task\">A task of the profile.</param>");
            w.Line("/// <returns>The task's generated path.</returns>");
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"task\"/> is not a member of <see cref=\"" + M.Task + "\"/>.</exception>");
            w.Line("public static " + IDecodePath + " " + M.PathFor + "(" + M.Task + " task) => task switch");
            w.Open();
            foreach (var task in spec.Tasks)
                w.Line(M.Task + "." + task.PascalName + " => " + task.PascalName + M.PathSuffix + ".Instance,");
            w.Line("_ => throw new global::System.ArgumentOutOfRangeException(nameof(task), task, \"not a task of this model\"),");
            w.Close(";");
        }

        private static void WritePathTable(SourceWriter w, ModelSpec spec)
        {
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Every generated path, for dispatching on the mask prefill chose and for finding a task's path by its name");
            w.Line("/// (<see cref=\"" + Runtime + ".Paths.DecodePathTable.ForTask\"/>). Where tasks share a mask, the first serves the");
            w.Line("/// mask; <see cref=\"" + M.FullPath + "\"/> is included unless a task keeps every layer.");
            bool drafts = false;
            foreach (var task in spec.Tasks) drafts |= task.Speculation != null;
            if (drafts) w.Line("/// Draft halves are not listed: each belongs to its task's path.");
            w.Line("/// </summary>");
            w.Line("public static " + Runtime + ".Paths.DecodePathTable " + M.Paths + " { get; } = new(new " + IDecodePath + "[]");
            w.Open();
            // DecodePathTable takes any number of task paths for one mask (each found by its name, the first
            // serving the mask), but no other path beside them: the full path is left out when a task has its mask.
            var seen = new Dictionary<EquatableArray<int>, string>();
            foreach (var task in spec.Tasks)
            {
                if (seen.TryGetValue(task.KeptLayers, out string? first))
                    w.Line("// Task '" + task.Name + "' has the mask of '" + first + "', which serves that mask; this one is found by its name.");
                else
                    seen.Add(task.KeptLayers, task.Name);
                w.Line(task.PascalName + M.PathSuffix + ".Instance,");
            }
            if (seen.TryGetValue(AllLayers(spec.NLayers), out string? full))
                w.Line("// " + M.FullPath + " has the mask of task '" + full + "' and shares its entry.");
            else
                w.Line(M.FullPath + ".Instance,");
            w.Close(");");
        }

        private static void WritePath(SourceWriter w, ModelSpec spec, string className, EquatableArray<int> kept, TaskSpec? task, SortedSet<int> used)
        {
            bool full = task is null;
            w.Line("/// <summary>");
            if (full)
            {
                w.Line("/// The full-depth decode path: all " + Int(spec.NLayers) + " layers on the compiled decoder. It needs a model loaded");
                if (used.Count == spec.NLayers)
                {
                    w.Line("/// with every layer, as <see cref=\"" + M.LoadOptions + "\"/> loads it.");
                }
                else
                {
                    w.Line("/// with every layer: <see cref=\"" + M.LoadOptions + "\"/> loads only <see cref=\"" + M.UsedLayers + "\"/>, so load with");
                    w.Line("/// <c>new ModelLoadOptions()</c> (or no options) to use this path.");
                }
            }
            else
            {
                w.Line("/// The decode path of task <c>" + task!.Name + "</c>: " + Int(kept.Count) + " of " + Int(spec.NLayers) + " layers on the compiled decoder");
                w.Line("/// for <see cref=\"" + M.Shape + "\"/>. Layers: " + Join(kept) + ".");
            }
            w.Line("/// </summary>");
            if (task?.Speculation is { } plan)
            {
                w.Line("/// <remarks>");
                w.Line("/// Self-speculative, as calibrated (E = " + Int(plan.DraftLayers) + ", k = " + Int(plan.Lookahead) + "). The draft half, <see cref=\"" + task.PascalName + M.DraftPathSuffix + "\"/>,");
                w.Line("/// runs the first <see cref=\"DraftLayers\"/> kept layers and the shared classifier on the compiled decoder");
                w.Line("/// to draft <see cref=\"Lookahead\"/> tokens; the verify half runs <see cref=\"VerifyLayers\"/> once over");
                w.Line("/// those tokens, batched, and keeps the longest prefix this path agrees with, so the output is this path's own.");
                w.Line("/// </remarks>");
            }
            w.Line("public sealed class " + className + " : " + Runtime + ".Paths.CompiledPath<" + M.Shape + ">");
            w.Open();
            w.Line("private " + className + "()");
            if (full)
                w.Line("    : base(new int[] { " + Join(kept) + " })");
            else if (task!.Speculation is null)
                w.Line("    : base(\"" + task.Name + "\", new int[] { " + Join(kept) + " })");
            else
                w.Line("    : base(\"" + task.Name + "\", new int[] { " + Join(kept) + " }, new " + Runtime + ".Decoding.SpeculationOptions(DraftLayers, Lookahead), "
                    + task.PascalName + M.DraftPathSuffix + ".Instance)");
            w.Line("{");
            w.Line("}");
            w.Line();
            w.Line("/// <summary>The one instance (a path has no state).</summary>");
            w.Line("public static " + className + " Instance { get; } = new();");
            w.Line();
            w.Line("/// <summary>Number of layers this path runs.</summary>");
            w.Line("public const int KeptLayerCount = " + Int(kept.Count) + ";");
            w.Line();
            w.Line("/// <summary>Bytes of float32 key/value cache a session of this path allocates: kept layers × keys and values × <c>" + M.KvDim + "</c> × <c>" + M.MaxSeqLen + "</c>.</summary>");
            w.Line("public const long KvCacheBytes = " + Int(kept.Count) + "L * 2 * " + M.KvDim + " * " + M.MaxSeqLen + " * sizeof(float);");
            w.Line();
            if (task?.Speculation is { } speculation) WriteHalves(w, kept, speculation);
            if (task?.EarlyExit is { } earlyExit) WriteEarlyExit(w, task, earlyExit);
            w.Line("/// <summary>Creates a session pinned to this path; its KV cache holds only this path's layers.</summary>");
            w.Line("/// <param name=\"model\">A model loaded with at least these layers" + (full ? " (all of them)" : ", as <see cref=\"" + M.LoadOptions + "\"/> loads it") + ".</param>");
            w.Line("/// <param name=\"threads\">Threads per matrix product; 0 uses the default of <see cref=\"" + Runtime + ".SessionOptions.Threads\"/>.</param>");
            w.Line("/// <returns>A new session; dispose it when done.</returns>");
            w.Line("public " + Runtime + ".InferenceSession CreateSession(" + Runtime + ".LlamaModel model, int threads = 0)");
            w.Open();
            w.Line("if (model is null) throw new global::System.ArgumentNullException(nameof(model));");
            w.Line("return model.CreateSession(threads == 0");
            w.Line("    ? new " + Runtime + ".SessionOptions { Path = this }");
            w.Line("    : new " + Runtime + ".SessionOptions { Path = this, Threads = threads });");
            w.Close();
            w.Close();
        }

        /// <summary>The plan's numbers and the verify half's layers, as members of the task path.</summary>
        private static void WriteHalves(SourceWriter w, EquatableArray<int> kept, SpeculationSpec plan)
        {
            var draft = new List<int>(kept).GetRange(0, plan.DraftLayers);
            var verify = new List<int>(kept).GetRange(plan.DraftLayers, kept.Count - plan.DraftLayers);
            w.Line("/// <summary>");
            w.Line("/// The draft half's size (LayerSkip's E): the first " + Int(plan.DraftLayers) + " kept layers (" + Join(draft) + ") and the shared classifier, run on");
            w.Line("/// the compiled decoder for each drafted token.");
            w.Line("/// </summary>");
            w.Line("public const int DraftLayers = " + Int(plan.DraftLayers) + ";");
            w.Line();
            w.Line("/// <summary>Tokens drafted per round (LayerSkip's k); the verify half checks them all in one batched pass.</summary>");
            w.Line("public const int Lookahead = " + Int(plan.Lookahead) + ";");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// The verify half: the kept layers after the draft's, run once per round over the <see cref=\"Lookahead\"/>");
            w.Line("/// drafted tokens as one batch, continuing from the draft's hidden states and KV entries.");
            w.Line("/// </summary>");
            w.Line("public static " + ReadOnlyIntList + " VerifyLayers { get; } =");
            w.Line("    global::System.Array.AsReadOnly(new int[] { " + Join(verify) + " });");
            w.Line();
        }

        /// <summary>The task's calibrated thresholds, one per layer of the model.</summary>
        private static void WriteEarlyExit(SourceWriter w, TaskSpec task, EarlyExitSpec earlyExit)
        {
            var values = new StringBuilder();
            foreach (var t in earlyExit.Thresholds)
            {
                if (values.Length > 0) values.Append(", ");
                values.Append(t.Value is float v ? Float(v) : "null");
            }
            w.Line("/// <summary>");
            w.Line("/// The early-exit thresholds calibrated for task <c>" + task.Name + "</c>, one per layer of the model (null: no exit");
            w.Line("/// after that layer), for <see cref=\"" + Runtime + ".SessionOptions.EarlyExit\"/>: a token leaves after a layer once");
            w.Line("/// the shared classifier's top probability there reaches the layer's threshold (on the dynamic path).");
            w.Line("/// </summary>");
            w.Line("public static " + Runtime + ".Decoding.EarlyExitOptions EarlyExit { get; } = new(new float?[] { " + values + " });");
            w.Line();
        }

        /// <summary>
        /// The draft half of a speculating task's path: a compiled path of its first E kept layers, with no task
        /// name of its own (it is not in <see cref="M.Paths"/>; the task path holds it as its <c>Draft</c>).
        /// </summary>
        private static void WriteDraftPath(SourceWriter w, ModelSpec spec, TaskSpec task, SpeculationSpec plan)
        {
            string className = task.PascalName + M.DraftPathSuffix;
            var draft = new List<int>(task.KeptLayers).GetRange(0, plan.DraftLayers);
            w.Line("/// <summary>");
            w.Line("/// The draft half of <see cref=\"" + task.PascalName + M.PathSuffix + "\"/> (task <c>" + task.Name + "</c>): its first " + Int(plan.DraftLayers) + " kept layers of " + Int(spec.NLayers) + " on the");
            w.Line("/// compiled decoder, then the shared classifier, to draft tokens that the task path's other layers verify.");
            w.Line("/// Layers: " + Join(draft) + ".");
            w.Line("/// </summary>");
            w.Line("public sealed class " + className + " : " + Runtime + ".Paths.CompiledPath<" + M.Shape + ">");
            w.Open();
            w.Line("private " + className + "()");
            w.Line("    : base(new int[] { " + Join(draft) + " })");
            w.Line("{");
            w.Line("}");
            w.Line();
            w.Line("/// <summary>The one instance (a path has no state).</summary>");
            w.Line("public static " + className + " Instance { get; } = new();");
            w.Close();
        }

        private static EquatableArray<int> AllLayers(int layers)
        {
            var all = new int[layers];
            for (int i = 0; i < layers; i++) all[i] = i;
            return new EquatableArray<int>(all);
        }

        private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>A double literal that reads back as exactly <paramref name="value"/> (validated finite).</summary>
        private static string Double(double value) => value.ToString("R", CultureInfo.InvariantCulture) + "d";

        /// <summary>A float literal that reads back as exactly <paramref name="value"/> (validated finite).</summary>
        private static string Float(float value) => value.ToString("R", CultureInfo.InvariantCulture) + "f";

        private static string Join(IEnumerable<int> values)
        {
            var sb = new StringBuilder();
            foreach (int v in values)
            {
                if (sb.Length > 0) sb.Append(", ");
                sb.Append(v.ToString(CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }
    }
}
