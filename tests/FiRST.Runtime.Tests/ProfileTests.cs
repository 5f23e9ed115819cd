using FiRST.Runtime.Profiles;
using FiRST.Runtime.Tests.Support;
using Xunit;

namespace FiRST.Runtime.Tests;

/// <summary>The profile format (docs/profile-schema.md): round trip and every schema rule.</summary>
public sealed class ProfileTests
{
    internal const string Valid = """
        {
          "schema": "first.profile/1",
          "model": { "architecture": "llama", "dim": 64, "hidden_dim": 172, "n_layers": 5, "n_heads": 8, "n_kv_heads": 4,
                     "vocab_size": 512, "max_seq_len": 512, "norm_eps": 1e-5, "rope_theta": 10000, "shared_classifier": true },
          "routers": { "file": "stories.routers.bin", "threshold": 0.5 },
          "tasks": [
            { "name": "copy", "kept_layers": [0, 1, 2, 4], "skipped_layers": [3], "accuracy_full": 1.0, "accuracy_masked": 0.99,
              "agreement": 0.98, "ms_per_token_full": 0.1, "ms_per_token_masked": 0.08, "speedup": 1.25, "prompts": 100,
              "mean_p": [0.9, 0.8, 0.7, 0.2, 0.6] },
            { "name": "reverse", "kept_layers": [0, 2, 4] }
          ]
        }
        """;

    [Fact]
    public void ValidProfileLoadsAndRoundTrips()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.first.json"), Valid);
        var profile = ModelProfile.Load(dir.File("p.first.json"));
        Assert.Equal(5, profile.Model.NLayers);
        Assert.Equal(new RouterReference("stories.routers.bin", 0.5f), profile.Routers);
        Assert.Equal("11101", profile.Task("copy").Mask(5).ToString());
        Assert.Equal("10101", profile.Task("REVERSE").Mask(5).ToString());
        Assert.Equal(1.25, profile.Task("copy").Speedup);

        profile.Save(dir.File("again.first.json"));
        var again = ModelProfile.Load(dir.File("again.first.json"));
        Assert.Equal(profile.Model, again.Model);
        Assert.Equal(profile.Tasks.Select(t => (t.Name, string.Join(",", t.KeptLayers), t.Agreement, t.Prompts)),
                     again.Tasks.Select(t => (t.Name, string.Join(",", t.KeptLayers), t.Agreement, t.Prompts)));
        Assert.Equal(profile.Task("copy").MeanP, again.Task("copy").MeanP);
    }

    [Theory]
    [InlineData("\"first.profile/1\"", "\"first.profile/9\"", "schema")]
    [InlineData("\"architecture\": \"llama\"", "\"architecture\": \"gpt2\"", "model.architecture")]
    [InlineData("\"n_layers\": 5", "\"n_layers\": -5", "n_layers")]
    [InlineData("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": [0, 2, 5]", "tasks[1] (reverse).kept_layers")]
    [InlineData("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": [2, 0]", "tasks[1] (reverse).kept_layers")]
    [InlineData("\"kept_layers\": [0, 2, 4]", "\"kept_layers\": []", "tasks[1] (reverse).kept_layers")]
    [InlineData("\"skipped_layers\": [3]", "\"skipped_layers\": [2]", "tasks[0] (copy).skipped_layers")]
    [InlineData("\"mean_p\": [0.9, 0.8, 0.7, 0.2, 0.6]", "\"mean_p\": [0.9, 0.8]", "tasks[0] (copy).mean_p")]
    [InlineData("\"name\": \"reverse\"", "\"name\": \"Copy\"", "tasks[1].name")]
    [InlineData("\"name\": \"reverse\"", "\"name\": \"4ward\"", "tasks[1].name")]
    [InlineData("\"accuracy_full\": 1.0", "\"accuracy_full\": 1.5", "tasks[0] (copy).accuracy_full")]
    [InlineData("\"threshold\": 0.5", "\"threshold\": 2", "routers.threshold")]
    public void SchemaViolationsNameTheField(string from, string to, string field)
    {
        Assert.Contains(from, Valid);
        var ex = Assert.Throws<ModelLoadException>(() => ModelProfile.Parse(System.Text.Encoding.UTF8.GetBytes(Valid.Replace(from, to)), "p.first.json"));
        Assert.Equal("p.first.json", ex.FilePath);
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void InvalidJsonGivesTheLine()
    {
        var ex = Assert.Throws<ModelLoadException>(() => ModelProfile.Parse("{\n \"schema\": \"first.profile/1\",\n \"model\": {,}\n}"u8.ToArray(), "p.json"));
        Assert.Contains("line 3", ex.Message);
    }

    [Fact]
    public void UnknownTaskAndMismatchedModelAreClearErrors()
    {
        var profile = ModelProfile.Parse(System.Text.Encoding.UTF8.GetBytes(Valid), "p.first.json");
        var missing = Assert.Throws<KeyNotFoundException>(() => profile.Task("sort"));
        Assert.Contains("copy, reverse", missing.Message);

        var other = profile.Model with { NLayers = 6 };
        var ex = Assert.Throws<ModelLoadException>(() => profile.EnsureFits(other, "other.bin"));
        Assert.Contains("5 layers", ex.Message);
        profile.EnsureFits(profile.Model, "same.bin");
    }

    [Fact]
    public void MissingProfileFile()
    {
        var ex = Assert.Throws<ModelLoadException>(() => ModelProfile.Load("/nonexistent/x.first.json"));
        Assert.Contains("not found", ex.Message);
    }
}
