namespace FiRST.Samples.Tests.Support;

/// <summary>Where the repository and the outputs of this test run's build are.</summary>
internal static class Repository
{
    /// <summary>The folder holding FiRST.Gen.sln, above this test assembly.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The configuration this test assembly was built in (the samples and packages were built with it).</summary>
    public static string Configuration { get; } = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>The built dll of the sample project <paramref name="name"/> (samples/NAME/NAME.csproj).</summary>
    public static string SampleDll(string name) => Path.Combine(Root, "samples", name, "bin", Configuration, "net10.0", name + ".dll");

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "FiRST.Gen.sln"))) return d.FullName;
        throw new InvalidOperationException("FiRST.Gen.sln not found above " + AppContext.BaseDirectory);
    }
}
