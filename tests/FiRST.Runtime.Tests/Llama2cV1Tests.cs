using System.Buffers.Binary;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// llama2.c's "version 1" export (export.py, version1_export): a 256-byte header (uint32 magic "ak42",
/// int32 version 1, the seven int32 fields with a positive vocabulary size, one byte for the shared
/// classifier, zeros), then float32 tensors in a different order from v0: every attention norm, every FFN
/// norm, the final norm, the embedding, then wq, wk, wv, wo, w1, w2, w3 for all layers each, and the
/// classifier only when it is not shared; no RoPE tables. The file is written here from that description,
/// not by the runtime's code, and must give the logits of the same weights in a v0 file.
/// </summary>
public sealed class Llama2cV1Tests
{
    private static void WriteVersion1(TestModel m, string path)
    {
        var c = m.Config;
        using var f = new BinaryWriter(File.Create(path));
        f.Write(0x616b3432u);
        f.Write(1);
        foreach (int v in new[] { c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKvHeads, c.VocabSize, c.MaxSeqLen }) f.Write(v);
        f.Write((byte)(c.SharedClassifier ? 1 : 0));
        f.Write(new byte[256 - f.BaseStream.Position]);
        var tensors = new List<float[]>();
        tensors.AddRange(m.RmsAtt);
        tensors.AddRange(m.RmsFfn);
        tensors.Add(m.RmsFinal);
        tensors.Add(m.Embedding);
        foreach (var kind in new[] { m.Wq, m.Wk, m.Wv, m.Wo, m.W1, m.W2, m.W3 }) tensors.AddRange(kind);
        if (!c.SharedClassifier) tensors.Add(m.Classifier);
        var bytes = new byte[4];
        foreach (var t in tensors)
            foreach (float x in t)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes, x);
                f.Write(bytes);
            }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_version_1_file_gives_the_logits_of_the_same_weights_in_version_0(bool shared)
    {
        var config = new ModelConfig { Dim = 48, HiddenDim = 72, NLayers = 3, NHeads = 6, NKvHeads = 3, VocabSize = 37, MaxSeqLen = 24, SharedClassifier = shared };
        var model = TestModel.Random(config, seed: 21);
        using var dir = new TempDir();
        model.WriteLlama2c(dir.File("v0.bin"));
        WriteVersion1(model, dir.File("v1.bin"));
        long expectedBytes = 256 + 4 * (config.NLayers * (2L * config.Dim + 2L * config.Dim * config.Dim + 2L * config.KvDim * config.Dim + 3L * config.HiddenDim * config.Dim)
                                         + config.Dim + (shared ? 1 : 2) * (long)config.VocabSize * config.Dim);
        Assert.Equal(expectedBytes, new FileInfo(dir.File("v1.bin")).Length);

        using var v0 = LlamaModel.Load(dir.File("v0.bin"));
        using var v1 = LlamaModel.Load(dir.File("v1.bin"));
        Assert.Equal(v0.Config, v1.Config);
        Assert.Equal(shared, v1.Config.SharedClassifier);
        using var a = v0.CreateSession(new SessionOptions { Threads = 1 });
        using var b = v1.CreateSession(new SessionOptions { Threads = 1 });
        var reference = new ReferenceTransformer(model);
        foreach (int token in new[] { 1, 36, 0, 17, 17, 5 })
        {
            var expected = reference.Forward(token);
            float[] la = a.Forward(token).ToArray(), lb = b.Forward(token).ToArray();
            Assert.Equal(la, lb);
            for (int i = 0; i < lb.Length; i++)
                Assert.True(Math.Abs(lb[i] - expected[i]) <= 1e-4, $"token {token}, logit {i}: v1 {lb[i]} vs reference {expected[i]}");
        }
    }

    [Fact]
    public void A_version_1_file_one_float_short_is_a_clear_error()
    {
        var config = new ModelConfig { Dim = 16, HiddenDim = 24, NLayers = 2, NHeads = 2, NKvHeads = 2, VocabSize = 11, MaxSeqLen = 8 };
        using var dir = new TempDir();
        string path = dir.File("v1.bin");
        WriteVersion1(TestModel.Random(config, seed: 2), path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(path));
        Assert.StartsWith(path + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
