using TorchSharp;

namespace FiRST.Training;

/// <summary>Facts about the TorchSharp/libtorch installation, checked before any training starts.</summary>
public static class TorchRuntime
{
    /// <summary>
    /// Loads libtorch and runs one small computation, so a broken native install fails here with a clear
    /// message rather than deep inside a training step.
    /// </summary>
    /// <exception cref="FiRST.Runtime.FiRSTException">libtorch could not be loaded or computed wrongly.</exception>
    public static string Check()
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
            float total = a.matmul(a.t()).sum().item<float>();
            // [[0,1,2],[3,4,5]] x its transpose = [[5,14],[14,50]]: 83.
            if (total != 83f) throw new FiRST.Runtime.FiRSTException($"libtorch computed {total} for a known product (expected 83)");
            return $"TorchSharp {typeof(torch).Assembly.GetName().Version}, {torch.get_num_threads()} threads";
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            throw new FiRST.Runtime.FiRSTException(
                "libtorch could not be loaded: " + (e.InnerException?.Message ?? e.Message) +
                " (on Debian 12 the build marks libLibTorchSharp.so's GLIBCXX_3.4.32 requirement weak; rebuild the project)", e);
        }
    }
}
