using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using FiRST.Runtime.Diagnostics;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>
/// Mutation fuzzing of every file format the runtime reads. Each format gets a fixed corpus (10,000 mutated
/// copies of a valid file from a fixed seed: a regression suite that is the same every run) and then a
/// search (<see cref="ExtraCases"/> more from a seed chosen per run, printed and named in every failure;
/// <c>FIRST_FUZZ_SEED=n</c> replays run seed n). Every mutant must load and run one forward step with
/// finite logits, or fail with a <see cref="ModelLoadException"/> whose message names the file: no other
/// exception type, no hang, no allocation past a bound. Inputs that once broke a loader are kept in
/// <see cref="Regressions"/>. The valid files come from the project's writers and from files it did not
/// write: the real Llama 2 SentencePiece model, and a llama2.c version-2 file written by this class's own
/// writer from export.py's description, with the trained weights of stories260K.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Cases = 10_000;

    /// <summary>Cases per format from the run's seed: about a fifth more fuzzing time, a new search each run.</summary>
    private const int ExtraCases = 2_000;

    /// <summary>
    /// Hang detection only: a case takes milliseconds, but on a loaded two-core machine a thread can wait
    /// seconds for a core, so the limit is far above any honest case. Speed is the benchmarks' business.
    /// </summary>
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(30);

    /// <summary>A bound on what one case allocates (counted on the thread that runs it), separate from time.</summary>
    private const long AllocationLimit = 64L << 20;

    private const string SeedVariable = "FIRST_FUZZ_SEED";

    /// <summary>One seed per test run (per process), so all formats search from the same printed seed.</summary>
    private static readonly Lazy<(int Seed, bool FromEnvironment)> RunSeed = new(() =>
    {
        string? text = Environment.GetEnvironmentVariable(SeedVariable);
        if (string.IsNullOrWhiteSpace(text)) return (Random.Shared.Next(), false);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seed))
            throw new InvalidOperationException($"{SeedVariable}='{text}': expected a non-negative 32-bit integer");
        return (seed, true);
    });

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly ModelConfig Small = new() { Dim = 16, HiddenDim = 24, NLayers = 2, NHeads = 2, NKvHeads = 1, VocabSize = 20, MaxSeqLen = 8 };

    [Fact]
    public void Llama2cCheckpointV0() => Fuzz("model.bin", Seed(w => TestModel.Random(Small, 1).WriteLlama2c(w)), LoadAndRun, seed: 1, allowance: ContextBytes);

    [Fact]
    public void Llama2cCheckpointV2()
    {
        string f32 = _dir.File("f32.bin");
        TestModel.Random(Small with { Dim = 32, HiddenDim = 64, NHeads = 2 }, 1).WriteLlama2c(f32);
        using (var m = LlamaModel.Load(f32, new ModelLoadOptions { Format = WeightFormat.Q8 }))
            Loading.Llama2cWriter.WriteQ8(m, _dir.File("q8.bin"));
        Fuzz("model.bin", File.ReadAllBytes(_dir.File("q8.bin")), LoadAndRun, seed: 2, allowance: ContextBytes);
    }

    [Fact]
    public void SafetensorsFile()
    {
        string dir = _dir.File("hf");
        TestModel.Random(Small, 1).WriteSafetensors(dir, "BF16");
        byte[] valid = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
        Fuzz(Path.Combine("hf", "model.safetensors"), valid, path => LoadAndRun(Path.GetDirectoryName(path)!), seed: 3, text: false,
             allowance: path => ContextBytes(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void SafetensorsConfigJson()
    {
        string dir = _dir.File("hf");
        TestModel.Random(Small, 1).WriteSafetensors(dir, "F32");
        byte[] valid = File.ReadAllBytes(Path.Combine(dir, "config.json"));
        Fuzz(Path.Combine("hf", "config.json"), valid, path => LoadAndRun(Path.GetDirectoryName(path)!), seed: 4, text: true,
             allowance: path => ContextBytes(Path.GetDirectoryName(path)!));
    }

    /// <summary>
    /// config.json with RoPE scaling, in both layouts: transformers 4 (rope_theta beside a llama3 rope_scaling object)
    /// and transformers 5 (rope_parameters holding rope_theta and the llama3 fields, dtype for torch_dtype), so
    /// mutations reach the scaling reader, the layouts' agreement check and the refused keys.
    /// </summary>
    [Theory]
    [InlineData(false, 12)]
    [InlineData(true, 13)]
    public void SafetensorsConfigJsonWithRopeScaling(bool transformers5, int seed)
    {
        string dir = _dir.File("hf");
        var scaled = Small with { RopeTheta = 500000, RopeScaling = RopeScaling.Llama3(8, 1, 4, 4) };
        TestModel.Random(scaled, 1).WriteSafetensors(dir, "F32", transformers5 ? TestModel.ToTransformers5 : null);
        byte[] valid = File.ReadAllBytes(Path.Combine(dir, "config.json"));
        Fuzz(Path.Combine("hf", "config.json"), valid, path => LoadAndRun(Path.GetDirectoryName(path)!), seed: seed, text: true,
             allowance: path => ContextBytes(Path.GetDirectoryName(path)!));
    }

    /// <summary>
    /// A small llama GGUF (F32) with its SentencePiece vocabulary: mutations reach the header, the metadata (strings,
    /// integers, floats, bools, arrays), the tensor table and the data.
    /// </summary>
    [Fact]
    public void GgufModel() => Fuzz("model.gguf", GgufSeed(Small, "F32"), LoadAndRun, seed: 14, allowance: ContextBytes);

    /// <summary>The same for a Q8_0 file (row lengths of whole blocks), which loads as int8.</summary>
    [Fact]
    public void GgufModelQ8_0() =>
        Fuzz("model.gguf", GgufSeed(Small with { Dim = 32, HiddenDim = 64 }, "Q8_0"), LoadAndRun, seed: 15, allowance: ContextBytes);

    /// <summary>The same for a Q4_0 file, which loads as 4-bit (its blocks placed in the kernel's order).</summary>
    [Fact]
    public void GgufModelQ4_0() =>
        Fuzz("model.gguf", GgufSeed(Small with { Dim = 32, HiddenDim = 64 }, "Q4_0"), LoadAndRun, seed: 31, allowance: ContextBytes);

    /// <summary>A GGUF file as a tokenizer: only its metadata is read.</summary>
    [Fact]
    public void GgufVocabulary() => Fuzz("model.gguf", GgufSeed(Small, "F32"), LoadTokenizer, seed: 16);

    private byte[] GgufSeed(ModelConfig config, string type) =>
        Seed(GgufWriter.FromModel(TestModel.Random(config, 1), type, GgufWriter.SmallVocabulary(config.VocabSize)).Write);

    [Fact]
    public void Llama2cTokenizer()
    {
        SharedModels.Require();
        Fuzz("tok.bin", File.ReadAllBytes(SharedModels.Tok512), LoadTokenizer, seed: 5);
    }

    [Fact]
    public void SentencePieceModel()
    {
        SharedModels.Require();
        // The 500 KB Llama 2 model costs ~10 ms a load; a smaller valid model keeps 10,000 cases quick:
        // the tok512 vocabulary re-encoded as a SentencePiece model by the llama2.c reader.
        var entries = Tokenization.Llama2cTokenizerFile.Read(SharedModels.Tok512, File.ReadAllBytes(SharedModels.Tok512));
        byte[] model = SentencePieceModelWriter.FromLlama2c(SharedModels.Tok512, entries);
        Fuzz("tok.model", model, LoadTokenizer, seed: 6);
    }

    [Fact]
    public void TokenizerJson() =>
        Fuzz(Path.Combine("hf-tok", "tokenizer.json"), Encoding.UTF8.GetBytes(TokenizerJsonWriter.Json(merges: 40)), LoadTokenizer, seed: 12, text: true);

    [Fact]
    public void ProfileJson() =>
        Fuzz("p.first.json", Encoding.UTF8.GetBytes(ProfileTests.Valid), path => Profiles.ModelProfile.Load(path), seed: 7, text: true);

    [Fact]
    public void RouterFile()
    {
        string modelPath = _dir.File("router-model.bin");
        TestModel.Random(Small, 1).WriteLlama2c(modelPath);
        using var model = LlamaModel.Load(modelPath);
        var rng = new Random(8);
        var routers = new Routing.RouterSet(Small.NLayers, Small.Dim,
            Enumerable.Range(0, Small.NLayers * Small.Dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [1f, -1f]);
        // Loaded routers must also route: a file that parses but does not fit the model fails with ModelLoadException too.
        Fuzz("r.routers.bin", Seed(routers.Save), path =>
        {
            using var session = model.CreateSession(new SessionOptions { Threads = 1, Routers = Routing.RouterSet.Load(path) });
            RequireFinite(session.Prefill([1, 2, 3]));
        }, seed: 8);
    }

    [Fact]
    public void LoraAdapterFile()
    {
        string modelPath = _dir.File("lora-model.bin");
        TestModel.Random(Small, 1).WriteLlama2c(modelPath);
        // Loaded adapters must also merge into a model and run.
        Fuzz("a.lora.bin", Seed(LoraTests.RandomAdapter(Small, rank: 2, seed: 9).Save), path =>
        {
            using var model = LlamaModel.Load(modelPath, new ModelLoadOptions { Adapter = Adapters.LoraAdapter.Load(path) });
            using var session = model.CreateSession(new SessionOptions { Threads = 1 });
            RequireFinite(session.Forward(1));
        }, seed: 9);
    }

    /// <summary>
    /// The real Llama 2 SentencePiece model (32,000 pieces, written by Google's trainer, not by this project).
    /// A load costs ~10 ms, so fewer cases than the small formats.
    /// </summary>
    [Fact]
    public void RealSentencePieceModel()
    {
        SharedModels.Require();
        Fuzz("llama2.model", File.ReadAllBytes(SharedModels.Llama2Model), LoadTokenizer, seed: 10, cases: 1_000, extraCases: 300);
    }

    /// <summary>
    /// A llama2.c version-2 file that this project's writer did not make: <see cref="ExportV2"/> follows
    /// export.py, and the weights are stories260K's trained ones (the group size 4 this shape needs; see
    /// <see cref="ExportPyDefaultGroupSizeIsRefusedForStories260K"/>).
    /// </summary>
    [Fact]
    public void Llama2cV2FromExportFormat()
    {
        SharedModels.Require();
        string path = _dir.File("export-v2.bin");
        ExportV2(TestModel.ReadLlama2c(SharedModels.Stories260K), path, groupSize: 4);
        Fuzz("model.bin", File.ReadAllBytes(path), LoadAndRun, seed: 11, cases: 2_000, extraCases: 500, allowance: ContextBytes);
    }

    /// <summary>
    /// The independent v2 file loads as int8, keeps export.py's group size, and follows the float32 model as
    /// closely as the runtime's own int8 version of it (same bounds as QuantizationTests.Q8FollowsFp32OnStories260K):
    /// the layout the runtime reads is export.py's, not only the one its own writer produces.
    /// </summary>
    [Fact]
    public void Llama2cV2FromExportFormatFollowsTheFloatModel()
    {
        SharedModels.Require();
        string path = _dir.File("export-v2.bin");
        ExportV2(TestModel.ReadLlama2c(SharedModels.Stories260K), path, groupSize: 4);
        using var fp32 = LlamaModel.Load(SharedModels.Stories260K);
        using var v2 = LlamaModel.Load(path);
        Assert.True(v2.Weights.IsQuantized);
        Assert.Equal(4, v2.Weights.GroupSize);
        Assert.Equal(fp32.Config, v2.Config);

        var report = QuantizationQuality.Compare(fp32, v2, steps: 200);
        output.WriteLine("export.py-format v2 vs float32: " + report);
        Assert.True(report.TeacherForcedAgreement >= 0.95, report.ToString());
        Assert.True(report.LogitsRmsError < 0.05 * report.LogitsRms, report.ToString());

        // The runtime's own quantizer follows the same Q8_0 rule (round(w / (max|w| / 127)), ties to even, as
        // torch.round); they could differ only where w / scale and w * (1 / scale) round differently, which no
        // weight of stories260K does. So a file read in the right layout gives exactly the logits of the
        // runtime's own int8 model; a misread tensor (order, values/scales split, header offset) would not.
        using var own = LlamaModel.Load(SharedModels.Stories260K, new ModelLoadOptions { Format = WeightFormat.Q8, GroupSize = 4 });
        var same = QuantizationQuality.Compare(own, v2, steps: 50);
        output.WriteLine("export.py-format v2 vs the runtime's own q8: " + same);
        Assert.True(same.LogitsRmsError == 0 && same.TeacherForcedAgreement == 1.0, same.ToString());
    }

    /// <summary>
    /// export.py's default group size is 64, halved only until it divides dim; for stories260K (dim 64, hidden
    /// 172) it writes 64, so w2's groups straddle rows and runq.c's matmul (whole groups only) would silently
    /// drop 44 of 172 columns. The runtime refuses such a file in one line naming it and the field.
    /// </summary>
    [Fact]
    public void ExportPyDefaultGroupSizeIsRefusedForStories260K()
    {
        SharedModels.Require();
        string path = _dir.File("export-v2-default.bin");
        int groupSize = ExportV2(TestModel.ReadLlama2c(SharedModels.Stories260K), path);
        Assert.Equal(64, groupSize);
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal("group_size", e.Field);
        Assert.StartsWith(path + ": group_size: ", e.Message);
        Assert.Contains("hidden_dim 172", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>
    /// What the finite-logits check found (Llama2cCheckpointV0, seed 1, case 214): every weight finite, one
    /// classifier row near float32's limit, so a logit overflows. The step fails naming the file; before, it
    /// returned an infinite logit.
    /// </summary>
    [Fact]
    public void FiniteWeightsThatOverflowFailTheStepNamingTheFile()
    {
        var m = TestModel.Random(Small, 1);
        Assert.True(Small.SharedClassifier);
        Array.Fill(m.Embedding, 3e38f, 3 * Small.Dim, Small.Dim); // row 3 of the shared embedding/classifier
        string path = _dir.File("overflow.bin");
        m.WriteLlama2c(path);
        using var model = LlamaModel.Load(path); // finite weights load
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        var e = Assert.Throws<ModelLoadException>(() => session.Forward(0));
        Assert.Equal(path, e.FilePath);
        Assert.Equal("logits", e.Field);
        Assert.StartsWith($"{path}: logits: a forward step gave logit 3 = ", e.Message);
    }

    [Theory]
    [MemberData(nameof(Regressions))]
    public void FormerCrashesFailCleanly(string name, string file, byte[] content)
    {
        string path = _dir.File(file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // A Hugging Face input needs its sibling: without config.json a damaged model.safetensors is never read.
        if (file.EndsWith("config.json") || file.EndsWith(".safetensors")) TestModel.Random(Small, 1).WriteSafetensors(Path.GetDirectoryName(path)!, "F32");
        File.WriteAllBytes(path, content);
        bool tokenizer = file.EndsWith(".model") || file.StartsWith("tok");
        string target = file.EndsWith("config.json") || file.EndsWith(".safetensors") ? Path.GetDirectoryName(path)! : path;
        var e = Record.Exception(() => (tokenizer ? (Action<string>)LoadTokenizer : LoadAndRun)(target));
        var error = Assert.IsType<ModelLoadException>(e);
        Assert.True(error.Message.Contains(path, StringComparison.Ordinal), $"{name}: the error does not name {path}: {error.Message}");
    }

    /// <summary>Inputs that broke a loader before it was fixed (name, file name, bytes).</summary>
    public static TheoryData<string, string, byte[]> Regressions => new()
    {
        { "data_offsets holding strings", Path.Combine("hf", "model.safetensors"), SafetensorsWithHeader("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}") },
        { "shape holding an object", Path.Combine("hf", "model.safetensors"), SafetensorsWithHeader("{\"x\":{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[0,4]}}") },
        // Found by SafetensorsFile (seed 3): a tensor name that is not UTF-8.
        { "tensor name with invalid UTF-8", Path.Combine("hf", "model.safetensors"), SafetensorsWithHeader("{\"\u00ff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", invalidUtf8: true) },
        // Found by SafetensorsConfigJson (seed 4, case 69): a string value that is not UTF-8.
        { "config value with invalid UTF-8", Path.Combine("hf", "config.json"), [.. "{\"model_type\":\"ll"u8, 0xFF, .. "ma\",\"hidden_size\":16}"u8] },
    };

    private static byte[] SafetensorsWithHeader(string json, bool invalidUtf8 = false)
    {
        // Latin-1 turns the one non-ASCII character into a lone 0xFF byte: invalid UTF-8.
        var header = invalidUtf8 ? Encoding.Latin1.GetBytes(json) : Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    /// <summary>
    /// Writes <paramref name="m"/> the way llama2.c's export.py <c>version2_export</c> does, from its
    /// description (not the project's <c>Llama2cWriter</c>): a 256-byte header (uint32 magic 0x616b3432, int32
    /// version 2, the seven int32 fields, one byte shared_classifier, int32 group_size right after it at
    /// offset 37, zeros), the float32 norms (rms_att per layer, rms_ffn per layer, rms_final), then per
    /// tensor (embedding, wq, wk, wv, wo, w1, w2, w3 per layer, the classifier if not shared) its int8 values
    /// followed by its float32 scales. Returns the group size written: export.py halves
    /// <paramref name="groupSize"/> (64 by default there) until it divides dim, and nothing more.
    /// </summary>
    internal static int ExportV2(TestModel m, string path, int groupSize = 64)
    {
        var c = m.Config;
        while (c.Dim % groupSize != 0) groupSize /= 2;
        using var w = new BinaryWriter(File.Create(path));
        w.Write(0x616b3432u);
        w.Write(2);
        foreach (int v in new[] { c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKvHeads, c.VocabSize, c.MaxSeqLen }) w.Write(v);
        w.Write((byte)(c.SharedClassifier ? 1 : 0));
        w.Write(groupSize);
        w.Write(new byte[256 - w.BaseStream.Position]);

        foreach (var norm in m.RmsAtt.Concat(m.RmsFfn).Append(m.RmsFinal))
            foreach (float f in norm) w.Write(f);

        var tensors = new List<float[]> { m.Embedding };
        foreach (var group in new[] { m.Wq, m.Wk, m.Wv, m.Wo, m.W1, m.W2, m.W3 }) tensors.AddRange(group);
        if (!c.SharedClassifier) tensors.Add(m.Classifier);
        foreach (var t in tensors)
        {
            // export.py asserts numel % group_size == 0 per tensor, nothing per row.
            Assert.True(t.Length % groupSize == 0, $"a tensor of {t.Length} elements is not a whole number of groups of {groupSize}");
            var scales = new float[t.Length / groupSize];
            var values = new byte[t.Length];
            for (int g = 0; g < scales.Length; g++)
            {
                float max = 0;
                for (int i = 0; i < groupSize; i++) max = Math.Max(max, Math.Abs(t[g * groupSize + i]));
                // quantize_q80: scale = wmax / 127, int8 = round(w / scale), torch.round rounding ties to even.
                float scale = max / 127f;
                scales[g] = scale;
                for (int i = 0; i < groupSize; i++)
                    values[g * groupSize + i] = unchecked((byte)(sbyte)(scale == 0 ? 0 : Math.Round(t[g * groupSize + i] / scale, MidpointRounding.ToEven)));
            }
            w.Write(values);
            foreach (float s in scales) w.Write(s);
        }
        return groupSize;
    }

    /// <summary>
    /// What a session legitimately allocates for the context its header asks for: the KV cache, RoPE tables and
    /// attention scores grow with max_seq_len, which v1/v2 headers and config.json set freely (a file's size does not depend on
    /// it; a mutant asking for 52,736 positions of stories260K needs 67 MB). 0 when the header does not read.
    /// </summary>
    private static long ContextBytes(string path)
    {
        try
        {
            var c = LlamaModel.ReadConfig(path);
            return c.MaxSeqLen * (c.NLayers * c.KvBytesPerTokenPerLayer + (long)(c.HeadSize + c.NHeads) * sizeof(float));
        }
        catch (ModelLoadException)
        {
            return 0;
        }
    }

    private static void LoadAndRun(string path)
    {
        using var model = LlamaModel.Load(path);
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        RequireFinite(session.Forward(0));
    }

    /// <summary>A file that loads must give usable logits; NaN or infinity would surface only as garbage text.</summary>
    private static void RequireFinite(ReadOnlySpan<float> logits)
    {
        for (int i = 0; i < logits.Length; i++)
            if (!float.IsFinite(logits[i]))
                throw new NonFiniteLogitsException($"the file loaded, but one forward step gave logit {i} = {logits[i]}");
    }

    /// <summary>Not a <see cref="ModelLoadException"/>, so the harness reports it as a failed case.</summary>
    private sealed class NonFiniteLogitsException(string message) : Exception(message);

    private static void LoadTokenizer(string path)
    {
        var tokenizer = TextTokenizer.Load(path);
        tokenizer.Encode("Hello, world! 12 \u00e9\U0001F600");
        tokenizer.Decode([1, 2, 3]);
    }

    private byte[] Seed(Action<string> write)
    {
        string path = _dir.File("seed-" + Guid.NewGuid().ToString("N"));
        write(path);
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// Runs the fixed corpus (<paramref name="cases"/> mutants from <paramref name="seed"/>) and then the search
    /// (<paramref name="extraCases"/> mutants from the run seed mixed with <paramref name="seed"/>, so formats
    /// do not share one stream).
    /// </summary>
    private void Fuzz(string file, byte[] valid, Action<string> load, int seed, bool text = false, int cases = Cases, int extraCases = ExtraCases,
                      Func<string, long>? allowance = null)
    {
        string path = _dir.File(file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, valid);
        load(path); // the unmutated file must load, or the fuzzing proves nothing

        var (runSeed, fromEnvironment) = RunSeed.Value;
        output.WriteLine($"run seed {runSeed} ({(fromEnvironment ? "from " + SeedVariable : "chosen for this run")}; {SeedVariable}={runSeed} replays it)");
        using var runner = new CaseThread();
        var fixedRun = Run(runner, path, valid, load, allowance, new Random(seed), cases, text, $"fixed seed {seed}");
        var searchRun = Run(runner, path, valid, load, allowance, new Random(unchecked(runSeed ^ (seed * (int)0x9E3779B1))), extraCases, text,
            $"run seed {runSeed}, replay with {SeedVariable}={runSeed}");
        output.WriteLine($"{file}: fixed seed {seed}: {cases} mutations, {fixedRun.Loaded} loaded, {fixedRun.Rejected} rejected with ModelLoadException");
        output.WriteLine($"{file}: run seed {runSeed}: {extraCases} mutations, {searchRun.Loaded} loaded, {searchRun.Rejected} rejected with ModelLoadException");
        Assert.True(fixedRun.Rejected > 0, "no mutation was rejected: the mutator is not reaching the parser");
    }

    private (int Loaded, int Rejected) Run(CaseThread runner, string path, byte[] valid, Action<string> load, Func<string, long>? allowance,
                                           Random rng, int cases, bool text, string corpus)
    {
        int loaded = 0, rejected = 0;
        for (int i = 0; i < cases; i++)
        {
            byte[] mutated = Mutate(valid, rng, text);
            File.WriteAllBytes(path, mutated);
            string where = $"{Path.GetFileName(path)} case {i} ({corpus})";
            if (!runner.Run(() => load(path), HangLimit))
                Assert.Fail($"{where} did not finish within {HangLimit.TotalSeconds} s: a hang");
            var error = runner.Error;
            if (error is not null and not ModelLoadException)
            {
                File.WriteAllBytes(_dir.File("crash.bin"), mutated);
                Assert.Fail($"{where}: {error.GetType().Name}: {error.Message}\n{Convert.ToBase64String(mutated.Length < 4096 ? mutated : mutated[..4096])}\n{error}");
            }
            // "file: field: problem" on one line, naming the file that was damaged (not only a folder or a sibling file).
            if (error is not null && (!error.Message.Contains(path, StringComparison.Ordinal) || error.Message.Contains('\n')))
                Assert.Fail($"{where}: the error does not name {path} on one line: {error.Message}");
            long limit = AllocationLimit + (allowance?.Invoke(path) ?? 0);
            if (runner.Allocated >= limit)
                Assert.Fail($"{where} allocated {runner.Allocated} bytes ({(error is null ? "loaded" : error.Message)})\n{Convert.ToBase64String(mutated.Length < 4096 ? mutated : mutated[..4096])}");
            if (error is null) loaded++; else rejected++;
        }
        return (loaded, rejected);
    }

    /// <summary>
    /// One long-lived thread that runs the cases, so a case's time is its own work plus waits for a core, never
    /// a wait for a thread-pool thread; allocation is counted on this thread alone.
    /// </summary>
    private sealed class CaseThread : IDisposable
    {
        private readonly SemaphoreSlim _start = new(0), _done = new(0);
        private Action? _work;
        private bool _hung;

        public Exception? Error { get; private set; }
        public long Allocated { get; private set; }

        public CaseThread() => new Thread(Loop) { IsBackground = true, Name = "fuzz case" }.Start();

        /// <summary>Runs <paramref name="work"/> on the case thread; false if it did not finish within <paramref name="limit"/>.</summary>
        public bool Run(Action work, TimeSpan limit)
        {
            _work = work;
            _start.Release();
            _hung = !_done.Wait(limit);
            return !_hung;
        }

        private void Loop()
        {
            while (true)
            {
                _start.Wait();
                var work = _work;
                if (work is null) return;
                long before = GC.GetAllocatedBytesForCurrentThread();
                try { work(); Error = null; }
                catch (Exception e) { Error = e; }
                Allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                _done.Release();
            }
        }

        public void Dispose()
        {
            // A hung case keeps its (background) thread; otherwise the thread ends here.
            if (_hung) return;
            _work = null;
            _start.Release();
        }
    }

    /// <summary>One to four random edits: byte flips, boundary values, int32 fields, truncation, insertion, deletion; in text, digit and punctuation edits.</summary>
    private static byte[] Mutate(byte[] valid, Random rng, bool text)
    {
        var data = new List<byte>(valid);
        int edits = rng.Next(1, 5);
        for (int e = 0; e < edits && data.Count > 0; e++)
        {
            int at = rng.Next(data.Count);
            // Most structure sits in the first bytes (headers); aim half of the edits there.
            if (rng.Next(2) == 0) at = rng.Next(Math.Min(data.Count, 320));
            switch (rng.Next(text ? 8 : 7))
            {
                case 0: data[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: data[at] = new byte[] { 0, 0xFF, 0x7F, 0x80, 0x01 }[rng.Next(5)]; break;
                case 2:
                    if (at + 4 <= data.Count)
                    {
                        int[] values = [0, -1, 1, int.MaxValue, int.MinValue, 1 << 20, 1 << 30, 3, 7, 256];
                        var b = new byte[4];
                        BinaryPrimitives.WriteInt32LittleEndian(b, values[rng.Next(values.Length)]);
                        for (int k = 0; k < 4; k++) data[at + k] = b[k];
                    }
                    break;
                case 3: data.RemoveRange(at, data.Count - at); break;
                case 4: data.InsertRange(at, Enumerable.Repeat((byte)rng.Next(256), rng.Next(1, 9))); break;
                case 5: data.RemoveRange(at, Math.Min(rng.Next(1, 9), data.Count - at)); break;
                case 6: data[at] = (byte)rng.Next(256); break;
                case 7: data[at] = (byte)"0123456789-.eE\"{}[],:ntf "[rng.Next(25)]; break;
            }
        }
        return data.ToArray();
    }
}
