namespace FiRST.Gen.Tests;

/// <summary>Small profile texts for tests, built around the stories260K shape (5 layers).</summary>
internal static class Profiles
{
    /// <summary>The stories260K model section, with the values that tests vary as parameters.</summary>
    public static string Model(string dim = "64", string kvHeads = "4", string architecture = "\"llama\"") => $$"""
        {
            "architecture": {{architecture}},
            "dim": {{dim}}, "hidden_dim": 172, "n_layers": 5, "n_heads": 8, "n_kv_heads": {{kvHeads}},
            "vocab_size": 512, "max_seq_len": 512
          }
        """;

    /// <summary>The current schema, as a JSON string: the version that may have early_exit and speculation.</summary>
    public const string V2 = "\"first.profile/2\"";

    /// <summary>A profile with the given tasks array body (the text between <c>[</c> and <c>]</c>).</summary>
    public static string WithTasks(string tasks, string? model = null, string schema = "\"first.profile/1\"") => $$"""
        {
          "schema": {{schema}},
          "model": {{model ?? Model()}},
          "tasks": [{{tasks}}]
        }
        """;

    /// <summary>A <c>first.profile/2</c> profile with the given tasks array body.</summary>
    public static string V2WithTasks(string tasks) => WithTasks(tasks, schema: V2);

    /// <summary>One task object.</summary>
    public static string Task(string name, string kept, string extra = "") =>
        $$"""{ "name": {{name}}, "kept_layers": {{kept}}{{(extra.Length > 0 ? ", " + extra : "")}} }""";
}
