using System.Text.Json;
using Xunit;

namespace FiRST.Cli.Tests;

/// <summary>
/// How <c>first</c> asks the JIT to compile: methods with loops (kernels, the decode step) fully optimised at their
/// first call, everything else at tier 0. Under .NET's defaults the first answer decodes at tier 0, about 6 times
/// slower; with tiered compilation off, as before, the whole main command ran 1.35 to 1.42 times longer.
/// </summary>
public sealed class CliJitSettingsTests
{
    [Fact]
    public void The_tool_compiles_loops_optimised_at_once_and_the_rest_quickly()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "first.runtimeconfig.json");
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var settings = json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(settings.GetProperty("System.Runtime.TieredCompilation").GetBoolean());
        Assert.False(settings.GetProperty("System.Runtime.TieredCompilation.QuickJitForLoops").GetBoolean());
    }
}
