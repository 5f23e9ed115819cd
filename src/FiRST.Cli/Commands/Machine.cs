using System.Runtime.InteropServices;

namespace FiRST.Cli.Commands;

/// <summary>The machine a benchmark ran on, in one line for its header: numbers mean little without it.</summary>
internal static class Machine
{
    /// <summary>The processor's model name (from /proc/cpuinfo on Linux, else the architecture) and the logical processor count.</summary>
    public static string Describe()
    {
        string name = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                    {
                        name = line[(colon + 1)..].Trim();
                        break;
                    }
        }
        catch (IOException)
        {
            // The architecture is all there is to say then.
        }
        catch (UnauthorizedAccessException)
        {
        }
        return $"{name}, {Environment.ProcessorCount} logical processors";
    }
}
