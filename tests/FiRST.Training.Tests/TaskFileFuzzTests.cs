using System.Text;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace FiRST.Training.Tests;

/// <summary>
/// The evaluation project's JSON Lines formats (task files for calibration and router training, hand-written
/// prompt lists for eval), fuzzed like the runtime's loaders: every mutation of a valid file either loads or
/// fails with a <see cref="ModelLoadException"/> naming the file on one line; nothing else escapes.
/// </summary>
public sealed class TaskFileFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Cases = 3000;

    private readonly string _dir = Directory.CreateTempSubdirectory("first-fuzz-jsonl").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TaskFiles() => Fuzz("tasks.jsonl",
        "{\"task\":\"greet\",\"prompt\":\"hi =>\",\"answer\":\"hello\"}\n{\"task\":\"count\",\"prompt\":\"1 2 =>\",\"answer\":\"3\"}\n",
        path => TaskFile.Load(path), seed: 11);

    [Fact]
    public void PromptLists() => Fuzz("prompts.jsonl",
        "{\"prompt\": \"copy abc =>\", \"answer\": \"abc\"}\n{\"prompt\": \"hello\", \"refused\": true}\n",
        path => PromptList.Load(path), seed: 12);

    private void Fuzz(string name, string valid, Action<string> load, int seed)
    {
        string path = Path.Combine(_dir, name);
        byte[] bytes = Encoding.UTF8.GetBytes(valid);
        File.WriteAllBytes(path, bytes);
        load(path); // the unmutated file must load, or the fuzzing proves nothing
        var rng = new Random(seed);
        int loaded = 0, rejected = 0;
        for (int i = 0; i < Cases; i++)
        {
            byte[] mutated = Mutate(bytes, rng);
            File.WriteAllBytes(path, mutated);
            try
            {
                load(path);
                loaded++;
            }
            catch (ModelLoadException e)
            {
                Assert.True(e.Message.Contains(path, StringComparison.Ordinal) && !e.Message.Contains('\n'),
                            $"case {i}: the error does not name {path} on one line: {e.Message}");
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i}: {e.GetType().Name}: {e.Message}\n{Convert.ToBase64String(mutated)}");
            }
        }
        output.WriteLine($"{name}: {Cases} mutations, {loaded} loaded, {rejected} rejected");
        Assert.True(rejected > Cases / 10 && loaded > 0, $"{loaded} loaded, {rejected} rejected: the mutator is not exercising the parser");
    }

    /// <summary>One to four edits: JSON punctuation and literals, byte flips, invalid UTF-8, truncation, insertion, deletion.</summary>
    private static byte[] Mutate(byte[] valid, Random rng)
    {
        var data = new List<byte>(valid);
        for (int e = rng.Next(1, 5); e > 0 && data.Count > 0; e--)
        {
            int at = rng.Next(data.Count);
            switch (rng.Next(6))
            {
                case 0: data[at] = (byte)"0123456789-.eE\"{}[],:ntf \n\\"[rng.Next(27)]; break;
                case 1: data[at] ^= (byte)(1 << rng.Next(8)); break;
                case 2: data[at] = new byte[] { 0, 0xFF, 0xC3, 0x80, 0xE2 }[rng.Next(5)]; break;
                case 3: data.RemoveRange(at, data.Count - at); break;
                case 4: data.InsertRange(at, Encoding.UTF8.GetBytes(new[] { "true", "null", "\"\"", "{}", "[]", "1e999", "\"refused\":true,", "\"answer\":\"x\"," }[rng.Next(8)])); break;
                case 5: data.RemoveRange(at, Math.Min(rng.Next(1, 9), data.Count - at)); break;
            }
        }
        return data.ToArray();
    }
}
