// The one definition of the profile schema's rules, compiled into two assemblies: the runtime (net10.0)
// includes it as its own source, and the source generator (netstandard2.0) links it
// (generators/FiRST.Gen/FiRST.Gen.csproj). Before this file each side kept its own copy of these values,
// kept in step by comments, so a limit changed on one side let the build accept a profile the runtime then
// refused. Hence the restrictions: plain constants and arrays, no implicit usings, no API newer than
// netstandard2.0, no LINQ; and internal, so the two copies never meet in a public surface.

namespace FiRST.Schema
{
    /// <summary>
    /// The rules of <c>first.profile/2</c> and <c>first.profile/1</c> (docs/profile-schema.md) that the
    /// runtime's <c>ProfileReader</c> and the generator's <c>ModelSpecParser</c> both enforce, and the names
    /// of the members the generator adds to a model class.
    /// </summary>
    internal static class ProfileSchema
    {
        /// <summary>The current schema version: both readers accept it and the runtime writes it.</summary>
        public const string Version = "first.profile/2";

        /// <summary>
        /// The first schema version, still read: the same as <see cref="Version"/> without the per-task
        /// <see cref="Fields.EarlyExit"/> and <see cref="Fields.Speculation"/>, which a /1 file may not have
        /// (a reader that ignored them would run the file without what it asks for).
        /// </summary>
        public const string VersionV1 = "first.profile/1";

        /// <summary>True for a version either reader accepts.</summary>
        public static bool IsKnownVersion(string version) => version == Version || version == VersionV1;

        /// <summary>The only <c>model.architecture</c> supported.</summary>
        public const string Architecture = "llama";

        /// <summary>Largest value accepted for any dimension; keeps size arithmetic far from overflow.</summary>
        public const int MaxDimension = 1 << 20;

        /// <summary>Largest number of layers accepted.</summary>
        public const int MaxLayers = 4096;

        /// <summary>
        /// Deepest nesting of JSON objects and arrays in a profile (the document itself is level 1). A profile
        /// needs four; the bound keeps hostile files from exhausting the stack of either reader.
        /// </summary>
        public const int MaxJsonDepth = 32;

        /// <summary>
        /// Longest task name accepted. The generator turns names into C# identifiers, which may not exceed
        /// 512 characters once suffixes are added; the runtime applies the same bound so both accept the same files.
        /// </summary>
        public const int MaxTaskNameLength = 200;

        /// <summary>
        /// Most tokens a speculation plan drafts per round (<c>speculation.lookahead</c>): the verify pass is
        /// one batch of at most this many plus one positions. The runtime's <c>SpeculationOptions.MaxLookahead</c>
        /// is this constant.
        /// </summary>
        public const int MaxLookahead = 32;

        /// <summary>
        /// True for an early-exit threshold (an entry of <c>early_exit.thresholds</c>): a top probability in
        /// (0, 1]. Both readers read the number as a double and keep it as a float, so the float must be in
        /// range too: 1e-50 is above 0 but becomes 0f, which no token could fail to reach.
        /// </summary>
        public static bool IsExitThreshold(double value) => value > 0 && value <= 1 && (float)value > 0;

        /// <summary>Names of the task fields added by <c>first.profile/2</c>.</summary>
        public static class Fields
        {
            /// <summary>Task object: per-layer early-exit thresholds.</summary>
            public const string EarlyExit = "early_exit";

            /// <summary>In <see cref="EarlyExit"/>: <c>n_layers</c> entries, each null or a number in (0, 1].</summary>
            public const string Thresholds = "thresholds";

            /// <summary>Task object: the self-speculation plan.</summary>
            public const string Speculation = "speculation";

            /// <summary>In <see cref="Speculation"/>: E, how many of the task's kept layers (the first ones) draft.</summary>
            public const string DraftLayers = "draft_layers";

            /// <summary>In <see cref="Speculation"/>: k, tokens drafted per round, 1 to <see cref="MaxLookahead"/>.</summary>
            public const string Lookahead = "lookahead";
        }

        /// <summary>
        /// RoPE frequency scaling: the model block's optional <see cref="Field"/> object (absent or null: none), with
        /// the rules <c>ModelConfig.Validate</c> and the generator both apply, so a profile the build accepts loads.
        /// Parameters a type does not use stay at their neutral values (factor 1, the others 0).
        /// </summary>
        public static class Rope
        {
            /// <summary>Model block: the scaling object.</summary>
            public const string Field = "rope_scaling";

            /// <summary>In <see cref="Field"/>: the scaling type, <see cref="Default"/>, <see cref="Linear"/> or <see cref="Llama3"/>.</summary>
            public const string Type = "type";

            /// <summary>In <see cref="Field"/>: the factor frequencies are divided by (linear, llama3).</summary>
            public const string Factor = "factor";

            /// <summary>In <see cref="Field"/>: llama3's lower wavelength bound, as a divisor of the original context.</summary>
            public const string LowFreqFactor = "low_freq_factor";

            /// <summary>In <see cref="Field"/>: llama3's upper wavelength bound, as a divisor of the original context.</summary>
            public const string HighFreqFactor = "high_freq_factor";

            /// <summary>In <see cref="Field"/>: llama3's pretraining context length.</summary>
            public const string OriginalMaxPositionEmbeddings = "original_max_position_embeddings";

            /// <summary>Type: unscaled frequencies <c>theta^(-2i/head_size)</c>.</summary>
            public const string Default = "default";

            /// <summary>Type: every frequency divided by the factor (transformers' <c>linear</c>).</summary>
            public const string Linear = "linear";

            /// <summary>Type: Llama 3.1's wavelength-dependent scaling (transformers' <c>llama3</c>).</summary>
            public const string Llama3 = "llama3";

            /// <summary>The parameters <paramref name="type"/> uses, each required: none for default (or an unknown type).</summary>
            public static string[] ParametersOf(string type) =>
                type == Linear ? new[] { Factor }
                : type == Llama3 ? new[] { Factor, LowFreqFactor, HighFreqFactor, OriginalMaxPositionEmbeddings }
                : new string[0];

            /// <summary>True for a type both readers support.</summary>
            public static bool IsSupportedType(string type) => type == Default || type == Linear || type == Llama3;

            /// <summary>
            /// What is wrong with scaling of <paramref name="type"/> with these parameters, or null when nothing is;
            /// <paramref name="field"/> receives the parameter at fault (one of the constants above).
            /// </summary>
            public static string? Problem(string type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings, out string field)
            {
                field = Type;
                if (!IsSupportedType(type)) return "'" + type + "' is not supported; expected '" + Default + "', '" + Linear + "' or '" + Llama3 + "'";
                bool llama3 = type == Llama3;
                field = Factor;
                if (type == Default)
                {
                    if (factor != 1) return "is not a parameter of '" + Default + "' scaling (expected 1 or absent)";
                }
                else if (!(factor >= 1 && factor <= MaxDimension))
                {
                    return "expected a number from 1 to " + MaxDimension + ", got " + Show(factor);
                }
                field = LowFreqFactor;
                if (!llama3 && lowFreqFactor != 0) return "is not a parameter of '" + type + "' scaling";
                if (llama3 && !(lowFreqFactor > 0 && lowFreqFactor <= MaxDimension)) return "expected a positive number up to " + MaxDimension + ", got " + Show(lowFreqFactor);
                field = HighFreqFactor;
                if (!llama3 && highFreqFactor != 0) return "is not a parameter of '" + type + "' scaling";
                if (llama3 && !(highFreqFactor > lowFreqFactor && highFreqFactor <= MaxDimension))
                    return "expected a number above low_freq_factor " + Show(lowFreqFactor) + " and up to " + MaxDimension + ", got " + Show(highFreqFactor);
                field = OriginalMaxPositionEmbeddings;
                if (!llama3 && originalMaxPositionEmbeddings != 0) return "is not a parameter of '" + type + "' scaling";
                if (llama3 && (originalMaxPositionEmbeddings < 1 || originalMaxPositionEmbeddings > MaxDimension))
                    return "expected a context length from 1 to " + MaxDimension + ", got " + originalMaxPositionEmbeddings;
                field = "";
                return null;
            }

            private static string Show(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }

        /// <summary>
        /// True for a task name: ASCII letters, digits and '_', not starting with a digit. ASCII only, because
        /// a name is both a C# identifier in generated code and a key users type on the command line; Unicode
        /// letters would pass one reader's <c>char.IsLetter</c> and fail the other's ASCII check.
        /// </summary>
        public static bool IsTaskName(string name)
        {
            if (name.Length == 0 || name.Length > MaxTaskNameLength) return false;
            if (!(IsAsciiLetter(name[0]) || name[0] == '_')) return false;
            foreach (char c in name)
                if (!(IsAsciiLetter(c) || (c >= '0' && c <= '9') || c == '_')) return false;
            return true;
        }

        /// <summary>
        /// The name a task's generated members are built from: <c>four_digit_add</c> → <c>FourDigitAdd</c>
        /// (split at underscores, each part's first character upper-cased). A result starting with a digit
        /// (<c>_1</c>) keeps one leading underscore so it stays an identifier; a name of underscores only gives
        /// the empty string. Part of the schema, not only of the generator: two tasks whose member names are
        /// equal ignoring case (<c>a_b</c>, <c>ab</c>), a task whose member name is empty, or one named like the
        /// all-layers path (<see cref="Members.Full"/>) would make a profile the runtime loads but no build
        /// can specialise, so both readers refuse them.
        /// </summary>
        public static string TaskMemberName(string name)
        {
            var sb = new System.Text.StringBuilder(name.Length);
            foreach (string part in name.Split('_'))
            {
                if (part.Length == 0) continue;
                sb.Append(char.ToUpperInvariant(part[0]));
                sb.Append(part, 1, part.Length - 1);
            }
            if (sb.Length > 0 && sb[0] >= '0' && sb[0] <= '9') sb.Insert(0, '_');
            return sb.ToString();
        }

        // char.IsAsciiLetter is .NET 7+; netstandard2.0 has only the Unicode-wide char.IsLetter.
        private static bool IsAsciiLetter(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

        /// <summary>
        /// Names of the members the generator adds to a model class. The emitter writes these constants,
        /// never string literals, and the parser rejects a class named like one of them, so renaming a
        /// member here changes both.
        /// </summary>
        public static class Members
        {
            /// <summary>Constant: width of the residual stream.</summary>
            public const string Dim = nameof(Dim);

            /// <summary>Constant: width of the feed-forward layer.</summary>
            public const string HiddenDim = nameof(HiddenDim);

            /// <summary>Constant: number of layers.</summary>
            public const string NLayers = nameof(NLayers);

            /// <summary>Constant: number of query heads.</summary>
            public const string NHeads = nameof(NHeads);

            /// <summary>Constant: number of key/value heads.</summary>
            public const string NKvHeads = nameof(NKvHeads);

            /// <summary>Constant: dimension of one attention head.</summary>
            public const string HeadSize = nameof(HeadSize);

            /// <summary>Constant: width of the key and value projections.</summary>
            public const string KvDim = nameof(KvDim);

            /// <summary>Constant: vocabulary size.</summary>
            public const string VocabSize = nameof(VocabSize);

            /// <summary>Constant: context length.</summary>
            public const string MaxSeqLen = nameof(MaxSeqLen);

            /// <summary>Constant: RMSNorm epsilon.</summary>
            public const string NormEps = nameof(NormEps);

            /// <summary>Constant: RoPE base.</summary>
            public const string RopeTheta = nameof(RopeTheta);

            /// <summary>Constant (models with RoPE scaling only): the scaling type.</summary>
            public const string RopeScalingType = nameof(RopeScalingType);

            /// <summary>Constant (models with RoPE scaling only): the scaling factor.</summary>
            public const string RopeScalingFactor = nameof(RopeScalingFactor);

            /// <summary>Constant (llama3 scaling only): the low-frequency factor.</summary>
            public const string RopeLowFreqFactor = nameof(RopeLowFreqFactor);

            /// <summary>Constant (llama3 scaling only): the high-frequency factor.</summary>
            public const string RopeHighFreqFactor = nameof(RopeHighFreqFactor);

            /// <summary>Constant (llama3 scaling only): the pretraining context length.</summary>
            public const string RopeOriginalMaxPositionEmbeddings = nameof(RopeOriginalMaxPositionEmbeddings);

            /// <summary>Constant: the classifier shares the embedding's weights.</summary>
            public const string SharedClassifier = nameof(SharedClassifier);

            /// <summary>Property: the runtime <c>ModelConfig</c>.</summary>
            public const string Config = nameof(Config);

            /// <summary>Enum of the profile's tasks.</summary>
            public const string Task = nameof(Task);

            /// <summary>Property: the layers some task keeps.</summary>
            public const string UsedLayers = nameof(UsedLayers);

            /// <summary>Method: load options for the used layers.</summary>
            public const string LoadOptions = nameof(LoadOptions);

            /// <summary>Method: a task's decode path.</summary>
            public const string PathFor = nameof(PathFor);

            /// <summary>Property: every path by its mask.</summary>
            public const string Paths = nameof(Paths);

            /// <summary>Nested struct: the shape as compile-time constants, the type argument of every path.</summary>
            public const string Shape = nameof(Shape);

            /// <summary>Suffix of a task's path class (task <c>copy</c> gives <c>CopyPath</c>).</summary>
            public const string PathSuffix = "Path";

            /// <summary>
            /// Suffix of the class of a task's draft half (task <c>copy</c> with a speculation plan gives
            /// <c>CopyDraftPath</c>, beside <c>CopyPath</c>). So the path class of a task whose member name is
            /// another task's plus <see cref="Draft"/> (<c>copy_draft</c> beside <c>copy</c>) would clash with
            /// that task's draft half: both readers refuse such a pair whether or not the task speculates, so
            /// that a recalibration adding a plan never turns a profile that built into one that does not.
            /// </summary>
            public const string DraftPathSuffix = Draft + PathSuffix;

            /// <summary>What <see cref="DraftPathSuffix"/> adds to a task's member name before <see cref="PathSuffix"/>.</summary>
            public const string Draft = nameof(Draft);

            /// <summary>The task name (in PascalCase) whose path class would be <see cref="FullPath"/>.</summary>
            public const string Full = nameof(Full);

            /// <summary>Nested class: the all-layers path.</summary>
            public const string FullPath = Full + PathSuffix;

            /// <summary>Every name above that is a member of the class itself (not the suffixes or <see cref="Full"/>).</summary>
            public static readonly string[] All =
            {
                Dim, HiddenDim, NLayers, NHeads, NKvHeads, HeadSize, KvDim, VocabSize, MaxSeqLen,
                NormEps, RopeTheta, RopeScalingType, RopeScalingFactor, RopeLowFreqFactor, RopeHighFreqFactor,
                RopeOriginalMaxPositionEmbeddings, SharedClassifier, Config, Task, UsedLayers, LoadOptions, PathFor,
                Paths, Shape, FullPath,
            };

            /// <summary>True when <paramref name="name"/> is the name of a generated member (ordinal).</summary>
            public static bool Contains(string name)
            {
                foreach (string member in All)
                    if (string.Equals(member, name, System.StringComparison.Ordinal)) return true;
                return false;
            }
        }
    }
}
