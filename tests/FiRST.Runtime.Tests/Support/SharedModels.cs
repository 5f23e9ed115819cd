namespace FiRST.Runtime.Tests.Support;

/// <summary>Paths of the reference files in <c>../shared/models</c> (relative to the repository root).</summary>
internal static class SharedModels
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Directory => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models"));

    public static string Stories260K => Path.Combine(Directory, "stories260K.bin");
    public static string Tok512 => Path.Combine(Directory, "tok512.bin");
    public static string Llama2Model => Path.Combine(Directory, "llama2-tokenizer.model");
    public static string Llama2Bin => Path.Combine(Directory, "llama2-tokenizer.bin");

    /// <summary>Fails the test with a clear message when ../shared/models is absent.</summary>
    public static void Require()
    {
        if (!File.Exists(Stories260K))
            throw new InvalidOperationException($"the reference models are missing: expected {Stories260K} (../shared/models beside the repository)");
    }

    public static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Golden", name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FiRST.Gen.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find FiRST.Gen.sln above " + AppContext.BaseDirectory);
    }
}
