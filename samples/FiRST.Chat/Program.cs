// FiRST behind Microsoft.Extensions.AI: the demo model is registered as the app's IChatClient, as any chat
// provider would be, and the app asks it the demo's task prompts through the IChatClient interface alone,
// streaming each answer and printing the decode path the dispatcher chose for it.
using FiRST.Chat;
using FiRST.Runtime;
using FiRST.Runtime.Chat;
using FiRST.Runtime.Generation;
using FiRST.Runtime.Routing;
using FiRST.Runtime.Tokenization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

string demoDir = Path.Combine(FindRepositoryRoot() ?? Directory.GetCurrentDirectory(), "models", "demo");
if (!File.Exists(Path.Combine(demoDir, "model.bin")))
{
    Console.Error.WriteLine($"The demo model is missing: {Path.Combine(demoDir, "model.bin")}");
    return 1;
}

var services = new ServiceCollection();
// The container owns the model and disposes it with the provider; the chat client only borrows it.
services.AddSingleton(_ => LlamaModel.Load(Path.Combine(demoDir, "model.bin"), DemoModel.LoadOptions()));
services.AddSingleton(provider => new TextGenerator(
    provider.GetRequiredService<LlamaModel>(),
    TextTokenizer.Load(Path.Combine(demoDir, "tokenizer.bin")),
    new SessionOptions
    {
        Routers = RouterSet.Load(Path.Combine(demoDir, "model.routers.bin")),
        Paths = DemoModel.Paths,
        SpeculateAsCalibrated = true,
    }));
services.AddChatClient(provider => new FiRSTChatClient(provider.GetRequiredService<TextGenerator>()))
        .ConfigureOptions(options => options.Temperature ??= 0); // the tasks have one right answer: decode greedily

await using var serviceProvider = services.BuildServiceProvider();
var chat = serviceProvider.GetRequiredService<IChatClient>();
var metadata = chat.GetService<ChatClientMetadata>()!;
Console.WriteLine($"{metadata.ProviderName} {metadata.DefaultModelId} ({chat.GetService<ChatTemplate>()} template)");

foreach (string prompt in new[] { "copy kqz1 =>", "reverse hello =>", "sort 5 3 9 1 =>", "1234+5678=" })
{
    Console.Write($"{prompt,-18}");
    ChatResponseUpdate? last = null;
    await foreach (var update in chat.GetStreamingResponseAsync(prompt))
    {
        Console.Write(update.Text);
        last = update;
    }
    // The last update carries the run's details and usage.
    var details = last!.AdditionalProperties!;
    var usage = last.Contents.OfType<UsageContent>().Single().Details;
    Console.WriteLine($"   [path {details[FiRSTChatProperties.DecodePath]} ({details[FiRSTChatProperties.PathReason]}), layers {details[FiRSTChatProperties.Mask]}, " +
                      $"speculation {details[FiRSTChatProperties.Speculation] ?? "-"}, {usage.InputTokenCount}+{usage.OutputTokenCount} tokens, {last.FinishReason}]");
}
return 0;

// The repository root is the folder holding FiRST.Gen.sln, found upwards from the program or the working folder.
static string? FindRepositoryRoot()
{
    foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FiRST.Gen.sln"))) return dir.FullName;
    return null;
}
