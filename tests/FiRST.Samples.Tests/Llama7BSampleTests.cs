using FiRST.Samples.Tests.Support;
using Xunit;

namespace FiRST.Samples.Tests;

/// <summary>samples/Llama7B runs with no weights and reports what the generator wrote for the Llama 2 7B shape.</summary>
public sealed class Llama7BSampleTests
{
    [Fact]
    public void It_prints_the_generated_tasks_layers_and_bytes_per_token()
    {
        var (code, output) = Processes.Run(TimeSpan.FromMinutes(2), Repository.Root, "dotnet", Repository.SampleDll("Llama7B"));

        Assert.True(code == 0, output);
        Assert.Contains("dim 4096, 32 layers, 32 heads (32 KV, head size 128), hidden 11008, vocabulary 32000, context 4096", output);
        Assert.Contains("tasks: Summarize, Classify, Extract; 4 paths in the dispatcher's table", output);
        Assert.Contains("layers loaded (the union of the tasks' kept layers): 0-23, 28-31, 28 of 32", output);
        // Per path: kept layers, KV bytes per token (2 x kvDim 4096 x 4 bytes per layer), the whole cache at 4096 tokens.
        Assert.Matches(@"summarize\s+SummarizePath\s+24/32\s+786,432\s+3\.00 GiB\s+18\.09 GiB\s+0-23", output);
        Assert.Contains("self-speculation: draft 8 layers, 4 tokens a round", output);
        Assert.Matches(@"classify\s+ClassifyPath\s+17/32\s+557,056\s+2\.12 GiB\s+12\.82 GiB\s+0-15, 31", output);
        Assert.Contains("early exit after layers 11 (p >= 0.95), 15 (p >= 0.95)", output);
        Assert.Matches(@"extract\s+ExtractPath\s+24/32\s+786,432\s+3\.00 GiB\s+18\.09 GiB\s+0-19, 28-31", output);
        Assert.Matches(@"\(full\)\s+FullPath\s+32/32\s+1,048,576\s+4\.00 GiB\s+24\.12 GiB\s+0-31", output);
    }
}
