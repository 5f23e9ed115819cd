using FiRST.Runtime;
using FiRST.Runtime.Loading;

namespace FiRST.Benchmarks;

/// <summary>
/// The models the decode and prefill benchmarks run: the trained <c>stories260K</c> reference file (tiny:
/// shows fixed per-token overhead) and seeded random-weight models of llama2.c's 15M and 110M shapes
/// (realistic sizes, where reading the weights dominates). Only the shape matters for speed, so random
/// weights measure the same work as trained ones without shipping hundreds of megabytes.
/// </summary>
internal static class BenchmarkModels
{
    public const string Stories260K = "stories260K";
    public const string Random15M = "15M";
    public const string Random110M = "110M";

    private static bool _skipReported;

    /// <summary>
    /// The model names to benchmark, for <c>[ParamsSource]</c>. <c>stories260K</c> is left out, with a message,
    /// when the reference file is not where the README says (<c>../shared/models</c> beside the repository).
    /// </summary>
    public static IEnumerable<string> Available()
    {
        if (File.Exists(PathOf(Stories260K))) yield return Stories260K;
        else if (!_skipReported)
        {
            _skipReported = true; // each benchmark class asks; say it once
            string where = RepoRoot() is null
                ? $"no FiRST.Gen.sln above {AppContext.BaseDirectory} or the current directory"
                : $"{System.IO.Path.GetFullPath(PathOf(Stories260K))} not found";
            Console.WriteLine($"// FiRST.Benchmarks: skipping model '{Stories260K}' ({where}; it is read from ../shared/models/stories260K.bin beside the repository)");
        }
        yield return Random15M;
        yield return Random110M;
    }

    /// <summary>Where the model's file is (or will be written, for the random ones).</summary>
    public static string PathOf(string name) => name switch
    {
        Stories260K => System.IO.Path.Combine(RepoRoot() ?? ".", "..", "shared", "models", "stories260K.bin"),
        Random15M or Random110M => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"first-bench-{name}.bin"),
        _ => throw new ArgumentException($"unknown benchmark model '{name}'", nameof(name)),
    };

    /// <summary>
    /// Returns the model's path, first writing the random model (seed 1) if it is not there yet. Written to a
    /// temporary name and moved into place, so a run that is interrupted (or one running beside it) never
    /// sees a half-written file. The 110M file is ~440 MB and takes a while once; later runs reuse it.
    /// </summary>
    public static string Ensure(string name)
    {
        string path = PathOf(name);
        if (File.Exists(path) || name == Stories260K) return path;
        var shape = name == Random15M ? RandomCheckpoint.Shape15M : RandomCheckpoint.Shape110M;
        Console.WriteLine($"// FiRST.Benchmarks: writing the random {name} model to {path} (once; later runs reuse it)");
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            RandomCheckpoint.Write(shape, 1, temp);
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process finished writing the same file first: the same seed gives the same bytes.
        }
        finally
        {
            File.Delete(temp);
        }
        return path;
    }

    /// <summary>
    /// Bytes of weights one forward step reads (every layer, final norm, classifier, one embedding row), from
    /// the file's header; <c>null</c> when the file is not there (yet).
    /// </summary>
    public static long? WeightBytesPerToken(string name)
    {
        string path = PathOf(name);
        if (!File.Exists(path)) return null;
        var c = LlamaModel.ReadConfig(path);
        long floats = c.NLayers * c.LayerParameterCount + c.Dim + (long)c.VocabSize * c.Dim + c.Dim;
        return floats * sizeof(float);
    }

    /// <summary>Token ids drawn uniformly from the vocabulary with a fixed seed, so every run feeds the same prompt.</summary>
    public static int[] RandomTokens(int count, int vocabSize, int seed = 1234)
    {
        var rng = new Random(seed);
        var tokens = new int[count];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.Next(vocabSize);
        return tokens;
    }

    /// <summary>
    /// The repository root: the first folder holding <c>FiRST.Gen.sln</c> above the running program (BenchmarkDotNet
    /// runs each case from a generated folder under <c>bin/</c>), else above the current directory.
    /// </summary>
    internal static string? RepoRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "FiRST.Gen.sln"))) return dir.FullName;
        }
        return null;
    }
}
