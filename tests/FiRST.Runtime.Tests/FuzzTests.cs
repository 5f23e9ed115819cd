using System.Buffers.Binary;
using System.Text;
using FiRST.Runtime.Tests.Support;
using FiRST.Runtime.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Runtime.Tests;

/// <summary>
/// Mutation fuzzing of every file format the runtime reads: 10,000 mutated copies of a valid file per format
/// and run, each of which must load (and then run a forward step) or fail with <see cref="ModelLoadException"/>:
/// no other exception type, no hang (per-case time limit) and no allocation past a bound. Seeds are fixed, so
/// a failure reproduces; inputs that once broke a loader are kept in <see cref="Regressions"/>.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Cases = 10_000;
    private static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(10);
    private const long AllocationLimit = 64L << 20;

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly ModelConfig Small = new() { Dim = 16, HiddenDim = 24, NLayers = 2, NHeads = 2, NKvHeads = 1, VocabSize = 20, MaxSeqLen = 8 };

    [Fact]
    public void Llama2cCheckpointV0() => Fuzz("model.bin", Seed(w => TestModel.Random(Small, 1).WriteLlama2c(w)), LoadAndRun, seed: 1);

    [Fact]
    public void Llama2cCheckpointV2()
    {
        string f32 = _dir.File("f32.bin");
        TestModel.Random(Small with { Dim = 32, HiddenDim = 64, NHeads = 2 }, 1).WriteLlama2c(f32);
        using (var m = LlamaModel.Load(f32, new ModelLoadOptions { Format = WeightFormat.Q8 }))
            Loading.Llama2cWriter.WriteQ8(m, _dir.File("q8.bin"));
        Fuzz("model.bin", File.ReadAllBytes(_dir.File("q8.bin")), LoadAndRun, seed: 2);
    }

    [Fact]
    public void SafetensorsFile()
    {
        string dir = _dir.File("hf");
        TestModel.Random(Small, 1).WriteSafetensors(dir, "BF16");
        byte[] valid = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
        Fuzz(Path.Combine("hf", "model.safetensors"), valid, path => LoadAndRun(Path.GetDirectoryName(path)!), seed: 3, text: false);
    }

    [Fact]
    public void SafetensorsConfigJson()
    {
        string dir = _dir.File("hf");
        TestModel.Random(Small, 1).WriteSafetensors(dir, "F32");
        byte[] valid = File.ReadAllBytes(Path.Combine(dir, "config.json"));
        Fuzz(Path.Combine("hf", "config.json"), valid, path => LoadAndRun(Path.GetDirectoryName(path)!), seed: 4, text: true);
    }

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
        byte[] model = Tokenization.Llama2cTokenizerFile.ToSentencePieceModel(SharedModels.Tok512, entries);
        Fuzz("tok.model", model, LoadTokenizer, seed: 6);
    }

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
            session.Prefill([1, 2, 3]);
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
            session.Forward(1);
        }, seed: 9);
    }

    [Theory]
    [MemberData(nameof(Regressions))]
    public void FormerCrashesFailCleanly(string name, string file, byte[] content)
    {
        string path = _dir.File(file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (file.EndsWith("config.json")) TestModel.Random(Small, 1).WriteSafetensors(Path.GetDirectoryName(path)!, "F32");
        File.WriteAllBytes(path, content);
        bool tokenizer = file.EndsWith(".model") || file.StartsWith("tok");
        string target = file.EndsWith("config.json") || file.EndsWith(".safetensors") ? Path.GetDirectoryName(path)! : path;
        var e = Record.Exception(() => (tokenizer ? (Action<string>)LoadTokenizer : LoadAndRun)(target));
        Assert.True(e is null or ModelLoadException, $"{name}: {e}");
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

    private static void LoadAndRun(string path)
    {
        using var model = LlamaModel.Load(path);
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        session.Forward(0);
    }

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

    private void Fuzz(string file, byte[] valid, Action<string> load, int seed, bool text = false)
    {
        string path = _dir.File(file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, valid);
        load(path); // the unmutated file must load, or the fuzzing proves nothing

        var rng = new Random(seed);
        int loaded = 0, rejected = 0;
        for (int i = 0; i < Cases; i++)
        {
            byte[] mutated = Mutate(valid, rng, text);
            File.WriteAllBytes(path, mutated);
            Exception? error = null;
            long allocated = 0;
            var task = Task.Run(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try { load(path); }
                catch (Exception e) { error = e; }
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            });
            if (!task.Wait(CaseLimit)) Assert.Fail($"case {i} (seed {seed}) did not finish within {CaseLimit.TotalSeconds} s");
            if (error is not null and not ModelLoadException)
            {
                File.WriteAllBytes(_dir.File("crash.bin"), mutated);
                Assert.Fail($"case {i} (seed {seed}): {error.GetType().Name}: {error.Message}\n{Convert.ToBase64String(mutated.Length < 4096 ? mutated : mutated[..4096])}\n{error}");
            }
            Assert.True(allocated < AllocationLimit, $"case {i} (seed {seed}) allocated {allocated} bytes");
            if (error is null) loaded++; else rejected++;
        }
        output.WriteLine($"{file}: {Cases} mutations, {loaded} loaded, {rejected} rejected with ModelLoadException");
        Assert.True(rejected > 0, "no mutation was rejected: the mutator is not reaching the parser");
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
