using System.Text;
using System.Text.Json.Nodes;
using FiRST.Runtime.Inference;
using FiRST.Runtime.Profiles;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>
/// RoPE scaling: the frequencies of each type against the published formulas (written here again, in double),
/// a llama3-scaled model against the reference forward pass, config.json's two layouts against each other, the
/// profile's copy of the scaling, and every configuration value the runtime cannot honour refused on one line.
/// </summary>
public sealed class RopeScalingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Head size 16 (8 frequencies), context 64: an original context of 16 puts frequencies in all three llama3 bands.</summary>
    private static readonly ModelConfig Scaled = new()
    {
        Dim = 64, HiddenDim = 96, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 40, MaxSeqLen = 64,
        RopeTheta = 10000, RopeScaling = RopeScaling.Llama3(8, 1, 4, 16), SharedClassifier = false,
    };

    /// <summary>transformers' default inverse frequencies: <c>theta^(-2i / d)</c>.</summary>
    private static double[] Unscaled(double theta, int headSize) =>
        Enumerable.Range(0, headSize / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / headSize)).ToArray();

    /// <summary>
    /// Meta's <c>apply_scaling</c> (llama-models, Llama 3.1), in its own terms: a frequency whose wavelength is below
    /// <c>old_context_len / high_freq_factor</c> stays, one above <c>old_context_len / low_freq_factor</c> is
    /// divided by the scale factor, and in between <c>smooth = (old_context_len / wavelen - low) / (high - low)</c>
    /// mixes the two.
    /// </summary>
    private static double[] Llama3Reference(double[] freqs, double scale, double low, double high, double oldContext) =>
        freqs.Select(freq =>
        {
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < oldContext / high) return freq;
            if (wavelen > oldContext / low) return freq / scale;
            double smooth = (oldContext / wavelen - low) / (high - low);
            return (1 - smooth) * freq / scale + smooth * freq;
        }).ToArray();

    /// <summary>The reference's frequencies for a configuration (default, linear or llama3).</summary>
    private static double[] Reference(ModelConfig c)
    {
        var freqs = Unscaled(c.RopeTheta, c.HeadSize);
        var s = c.RopeScaling;
        return s.Type switch
        {
            RopeScalingType.Linear => freqs.Select(f => f / s.Factor).ToArray(),
            RopeScalingType.Llama3 => Llama3Reference(freqs, s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings),
            _ => freqs,
        };
    }

    public static TheoryData<string, ModelConfig> FrequencyCases => new()
    {
        { "default, theta 10000, head 64", Scaled with { Dim = 256, RopeScaling = RopeScaling.Default } },
        { "default, theta 500000, head 128", Scaled with { Dim = 512, RopeTheta = 500000, RopeScaling = RopeScaling.Default } },
        { "linear 4", Scaled with { RopeScaling = RopeScaling.Linear(4) } },
        { "linear 2.5, head 128", Scaled with { Dim = 512, RopeScaling = RopeScaling.Linear(2.5) } },
        { "llama3 small", Scaled },
        { "llama3.2 1B", Scaled with { Dim = 2048, NHeads = 32, NKvHeads = 8, RopeTheta = 500000, RopeScaling = RopeScaling.Llama3(32, 1, 4, 8192) } },
        { "llama3.1 8B", Scaled with { Dim = 4096, NHeads = 32, NKvHeads = 8, RopeTheta = 500000, RopeScaling = RopeScaling.Llama3(8, 1, 4, 8192) } },
    };

    [Theory]
    [MemberData(nameof(FrequencyCases))]
    public void Frequencies_match_the_published_formula(string name, ModelConfig config)
    {
        config.Validate(name);
        var expected = Reference(config);
        var actual = RopeFrequencies.Inverse(config);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            // Scaled types are computed in double and rounded once; the default keeps llama2.c's float arithmetic.
            double tolerance = config.RopeScaling.Type == RopeScalingType.Default ? 4e-7 : 6e-8;
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * expected[i], $"{name}: frequency {i}: {actual[i]:R}, expected {expected[i]:R}");
        }
    }

    [Fact]
    public void Llama3_scaling_keeps_high_frequencies_divides_low_ones_and_blends_between()
    {
        var c = Scaled with { Dim = 2048, NHeads = 32, NKvHeads = 8, RopeTheta = 500000, RopeScaling = RopeScaling.Llama3(32, 1, 4, 8192) };
        var plain = Unscaled(500000, 64);
        var scaled = RopeFrequencies.Inverse(c);
        Assert.Equal((float)plain[0], scaled[0]);                    // wavelength 2π: kept
        Assert.Equal((float)(plain[^1] / 32), scaled[^1]);           // the longest wavelength: divided by the factor
        int blended = Enumerable.Range(0, 32).Count(i => scaled[i] < (float)plain[i] && scaled[i] > (float)(plain[i] / 32));
        Assert.InRange(blended, 1, 31);
    }

    [Fact]
    public void Llama3_model_matches_the_reference_with_scaled_frequencies_and_differs_from_unscaled()
    {
        var m = TestModel.Random(Scaled, seed: 11);
        string dir = _dir.File("llama3");
        m.WriteSafetensors(dir, "F32");
        using var model = LlamaModel.Load(dir);
        Assert.Equal(Scaled, model.Config);
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        var scaled = new ReferenceTransformer(m, inverseFrequencies: Reference(Scaled));
        var unscaled = new ReferenceTransformer(m);
        double differs = 0;
        var rng = new Random(3);
        for (int pos = 0; pos < 40; pos++)
        {
            int token = rng.Next(Scaled.VocabSize);
            var logits = session.Forward(token).ToArray();
            var expected = scaled.Forward(token);
            var plain = unscaled.Forward(token);
            for (int i = 0; i < logits.Length; i++)
            {
                Assert.True(Math.Abs(logits[i] - expected[i]) < 1e-4, $"position {pos}, logit {i}: {logits[i]} vs reference {expected[i]}");
                differs = Math.Max(differs, Math.Abs(logits[i] - plain[i]));
            }
        }
        // The check can fail: without the scaling the same weights give other logits.
        Assert.True(differs > 1e-2, $"scaled and unscaled logits differ by at most {differs}");
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("linear")]
    [InlineData("default")]
    public void Transformers_4_and_5_layouts_give_identical_logits(string type)
    {
        var config = Scaled with
        {
            RopeTheta = 500000,
            RopeScaling = type switch { "llama3" => Scaled.RopeScaling, "linear" => RopeScaling.Linear(4), _ => RopeScaling.Default },
        };
        var m = TestModel.Random(config, seed: 5);
        string v4 = _dir.File("v4"), v5 = _dir.File("v5");
        m.WriteSafetensors(v4, "F32");
        m.WriteSafetensors(v5, "F32", TestModel.ToTransformers5);
        Assert.Contains("rope_parameters", File.ReadAllText(Path.Combine(v5, "config.json")));
        Assert.DoesNotContain("rope_theta\":500000,", File.ReadAllText(Path.Combine(v5, "config.json")).Replace(" ", ""));
        using var a = LlamaModel.Load(v4);
        using var b = LlamaModel.Load(v5);
        Assert.Equal(config, a.Config);
        Assert.Equal(config, b.Config);
        using var sa = a.CreateSession(new SessionOptions { Threads = 1 });
        using var sb = b.CreateSession(new SessionOptions { Threads = 1 });
        for (int pos = 0; pos < 20; pos++)
            Assert.True(sa.Forward(pos % 40).SequenceEqual(sb.Forward(pos % 40)), $"position {pos}: the layouts' logits differ");
    }

    [Fact]
    public void Both_layouts_in_one_file_are_read_when_they_agree()
    {
        string dir = _dir.File("both");
        TestModel.Random(Scaled, seed: 1).WriteSafetensors(dir, "F32", c =>
        {
            var v5 = new Dictionary<string, object?>(c);
            TestModel.ToTransformers5(v5);
            c["rope_parameters"] = v5["rope_parameters"];
            c["dtype"] = c["torch_dtype"];
        });
        Assert.Equal(Scaled, LlamaModel.ReadConfig(dir));
    }

    [Fact]
    public void Legacy_type_key_is_read_as_rope_type()
    {
        string dir = _dir.File("legacy");
        TestModel.Random(Scaled with { RopeScaling = RopeScaling.Linear(2) }, seed: 1).WriteSafetensors(dir, "F32",
            c => c["rope_scaling"] = new Dictionary<string, object> { ["type"] = "linear", ["factor"] = 2.0 });
        Assert.Equal(RopeScaling.Linear(2), LlamaModel.ReadConfig(dir).RopeScaling);
    }

    /// <summary>Edits to a valid transformers 4 config.json (the llama3-scaled model) and the key each must be refused with.</summary>
    public static TheoryData<string, string, string> Refused => new()
    {
        { "yarn", "rope_scaling.rope_type", """{ "rope_scaling": { "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16 } }""" },
        { "dynamic", "rope_scaling.rope_type", """{ "rope_scaling": { "rope_type": "dynamic", "factor": 2.0 } }""" },
        { "longrope", "rope_parameters.rope_type", """{ "rope_scaling": null, "rope_parameters": { "rope_type": "longrope", "short_factor": [1], "long_factor": [1] } }""" },
        { "su", "rope_scaling.type", """{ "rope_scaling": { "type": "su", "factor": 2.0 } }""" },
        { "rope_type and type disagree", "rope_scaling.type", """{ "rope_scaling": { "rope_type": "linear", "type": "dynamic", "factor": 2.0 } }""" },
        { "llama3 without low_freq_factor", "rope_scaling.low_freq_factor", """{ "rope_scaling": { "rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16 } }""" },
        { "llama3 high not above low", "rope_scaling.high_freq_factor", """{ "rope_scaling": { "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16 } }""" },
        { "linear factor below 1", "rope_scaling.factor", """{ "rope_scaling": { "rope_type": "linear", "factor": 0.5 } }""" },
        { "linear factor a string", "rope_scaling.factor", """{ "rope_scaling": { "rope_type": "linear", "factor": "2" } }""" },
        { "a parameter of another type", "rope_scaling.beta_fast", """{ "rope_scaling": { "rope_type": "linear", "factor": 2.0, "beta_fast": 32 } }""" },
        { "per-layer-type parameters", "rope_parameters.full_attention", """{ "rope_scaling": null, "rope_parameters": { "full_attention": { "rope_type": "default" } } }""" },
        { "rope_scaling a string", "rope_scaling", """{ "rope_scaling": "llama3" }""" },
        { "layouts disagree on theta", "rope_parameters.rope_theta", """{ "rope_parameters": { "rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16 }, "rope_theta": 500000.0 }""" },
        { "layouts disagree on scaling", "rope_parameters", """{ "rope_parameters": { "rope_type": "linear", "factor": 8.0 } }""" },
        { "top-level original context disagrees", "original_max_position_embeddings", """{ "original_max_position_embeddings": 8192 }""" },
        { "partial rotary", "partial_rotary_factor", """{ "partial_rotary_factor": 0.5 }""" },
        { "partial rotary in the block", "rope_scaling.partial_rotary_factor", """{ "rope_scaling": { "rope_type": "linear", "factor": 2.0, "partial_rotary_factor": 0.25 } }""" },
        { "head_dim", "head_dim", """{ "head_dim": 32 }""" },
        { "attention_bias", "attention_bias", """{ "attention_bias": true }""" },
        { "attention_bias a string", "attention_bias", """{ "attention_bias": "false" }""" },
        { "mlp_bias", "mlp_bias", """{ "mlp_bias": true }""" },
        { "hidden_act gelu", "hidden_act", """{ "hidden_act": "gelu" }""" },
        { "hidden_act a number", "hidden_act", """{ "hidden_act": 1 }""" },
        { "pretraining_tp", "pretraining_tp", """{ "pretraining_tp": 2 }""" },
        { "tie_word_embeddings a string", "tie_word_embeddings", """{ "tie_word_embeddings": "true" }""" },
        { "dtype and torch_dtype disagree", "dtype", """{ "dtype": "bfloat16", "torch_dtype": "float32" }""" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Settings_that_change_the_math_are_refused_on_one_line_naming_the_key(string name, string field, string edits)
    {
        string dir = _dir.File("refused");
        var m = TestModel.Random(Scaled, seed: 1);
        m.WriteSafetensors(dir, "F32");
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(edits)!.AsObject()) json[key] = value?.DeepClone();
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir));
        Assert.Equal(path, e.FilePath);
        Assert.True(field == e.Field, $"{name}: expected the key {field}, the error names '{e.Field}': {e.Message}");
        Assert.StartsWith($"{path}: {field}: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Refused_scaling_type_is_named_in_the_message()
    {
        string dir = _dir.File("yarn");
        TestModel.Random(Scaled, seed: 1).WriteSafetensors(dir, "F32", c => c["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "yarn", ["factor"] = 4.0 });
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.ReadConfig(dir));
        Assert.Contains("'yarn' RoPE scaling is not supported", e.Message);
    }

    [Theory]
    [InlineData("""{ "head_dim": 16, "pretraining_tp": 1, "attention_bias": false, "mlp_bias": null, "hidden_act": "silu", "num_key_value_heads": 2, "partial_rotary_factor": 1.0 }""")]
    [InlineData("""{ "rope_scaling": { "rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 16, "rope_theta": 10000 }, "original_max_position_embeddings": 16 }""")]
    public void Settings_at_their_supported_values_load(string edits)
    {
        string dir = _dir.File("supported");
        TestModel.Random(Scaled, seed: 1).WriteSafetensors(dir, "F32");
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(edits)!.AsObject()) json[key] = value?.DeepClone();
        File.WriteAllText(path, json.ToJsonString());
        Assert.Equal(Scaled, LlamaModel.ReadConfig(dir));
    }

    [Fact]
    public void Tied_embeddings_use_the_embedding_even_when_the_file_has_an_lm_head()
    {
        // transformers ties lm_head to embed_tokens when tie_word_embeddings is true; a stored lm_head is not used.
        var m = TestModel.Random(Scaled, seed: 2);
        string dir = _dir.File("tied");
        m.WriteSafetensors(dir, "F32", c => c["tie_word_embeddings"] = true);
        using var model = LlamaModel.Load(dir);
        Assert.True(model.Config.SharedClassifier);
        var tied = new TestModel
        {
            Config = m.Config with { SharedClassifier = true }, Embedding = m.Embedding, RmsAtt = m.RmsAtt, Wq = m.Wq, Wk = m.Wk, Wv = m.Wv,
            Wo = m.Wo, RmsFfn = m.RmsFfn, W1 = m.W1, W2 = m.W2, W3 = m.W3, RmsFinal = m.RmsFinal, Classifier = m.Embedding,
        };
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        var logits = session.Forward(3).ToArray();
        var expected = new ReferenceTransformer(tied, inverseFrequencies: Reference(Scaled)).Forward(3);
        for (int i = 0; i < logits.Length; i++) Assert.True(Math.Abs(logits[i] - expected[i]) < 1e-4, $"logit {i}");
    }

    [Fact]
    public void Export_writes_the_scaling_back()
    {
        string dir = _dir.File("src"), copy = _dir.File("copy");
        TestModel.Random(Scaled, seed: 4).WriteSafetensors(dir, "F32");
        using var model = LlamaModel.Load(dir);
        Loading.SafetensorsWriter.Write(model, copy);
        using var again = LlamaModel.Load(copy);
        Assert.Equal(model.Config, again.Config);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("linear")]
    public void Profile_keeps_the_scaling_and_refuses_another_model(string type)
    {
        var config = Scaled with { RopeScaling = type == "linear" ? RopeScaling.Linear(2) : Scaled.RopeScaling };
        var profile = new ModelProfile { Model = config, Tasks = [new TaskProfile { Name = "copy", KeptLayers = [0, 1] }] };
        string path = _dir.File("p.first.json");
        profile.Save(path);
        var loaded = ModelProfile.Load(path);
        Assert.Equal(config, loaded.Model);
        var e = Assert.Throws<ModelLoadException>(() => loaded.EnsureFits(config with { RopeScaling = RopeScaling.Default }, "m"));
        Assert.Contains("rope_scaling default", e.Message);
        Assert.Contains("\"rope_scaling\"", File.ReadAllText(path));
        Assert.DoesNotContain("rope_scaling", WriteUnscaled());
    }

    /// <summary>An unscaled profile's text: it has no rope_scaling object (files from before scaling stay byte-identical).</summary>
    private string WriteUnscaled()
    {
        string path = _dir.File("unscaled.first.json");
        new ModelProfile { Model = Scaled with { RopeScaling = RopeScaling.Default }, Tasks = [] }.Save(path);
        return File.ReadAllText(path);
    }

    [Theory]
    [InlineData("\"rope_scaling\": { \"type\": \"yarn\", \"factor\": 2 }", "model.rope_scaling.type")]
    [InlineData("\"rope_scaling\": { \"type\": \"linear\" }", "model.rope_scaling.factor")]
    [InlineData("\"rope_scaling\": { \"type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 1, \"high_freq_factor\": 0.5, \"original_max_position_embeddings\": 16 }", "rope_scaling.high_freq_factor")]
    public void Profile_with_bad_scaling_is_refused(string scaling, string field)
    {
        string json = ProfileTests.Valid.Replace("\"first.profile/1\"", "\"first.profile/2\"").Replace("\"rope_theta\": 10000,", "\"rope_theta\": 10000, " + scaling + ",");
        Assert.Contains(scaling, json);
        var e = Assert.Throws<ModelLoadException>(() => ModelProfile.Parse(Encoding.UTF8.GetBytes(json), "p.first.json"));
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void Config_validation_refuses_bad_scaling_with_the_parameter_named()
    {
        var e = Assert.Throws<ModelLoadException>(() => (Scaled with { RopeScaling = RopeScaling.Llama3(8, 1, 4, 0) }).Validate("x"));
        Assert.Equal("rope_scaling.original_max_position_embeddings", e.Field);
        e = Assert.Throws<ModelLoadException>(() => (Scaled with { RopeScaling = RopeScaling.Default with { Factor = 2 } }).Validate("x"));
        Assert.Equal("rope_scaling.factor", e.Field);
        e = Assert.Throws<ModelLoadException>(() => (Scaled with { RopeScaling = RopeScaling.Linear(2) with { LowFreqFactor = 1 } }).Validate("x"));
        Assert.Equal("rope_scaling.low_freq_factor", e.Field);
    }
}
