using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using Xunit;

namespace FiRST.Training.Tests;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        // Fails on Debian 12 unless the build weakened libLibTorchSharp.so's GLIBCXX_3.4.32 requirement.
        string description = TorchRuntime.Check();
        Assert.StartsWith("TorchSharp", description);
    }
}
