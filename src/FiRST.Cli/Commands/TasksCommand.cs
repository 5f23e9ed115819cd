using System.CommandLine;
using FiRST.Evaluation.Tasks;

namespace FiRST.Cli.Commands;

/// <summary>
/// <c>first tasks</c>: what the embedded model accepts, task by task, with an example and the layers its
/// calibrated decode path keeps. <c>first generate</c> refuses other prompts with the same grammar.
/// </summary>
internal static class TasksCommand
{
    public static Command Create(TextWriter output)
    {
        var command = new Command("tasks", "List the embedded model's tasks: the prompts each accepts, an example and the layers its decode path runs");
        command.SetAction(_ =>
        {
            output.WriteLine("The embedded demo model answers four tasks; first generate refuses other prompts (--raw-prompt sends them anyway).");
            output.WriteLine();
            foreach (var (task, grammar, example) in TaskGrammar.Describe(TaskGenerator.Standard))
            {
                var path = DemoModel.PathFor(Enum.Parse<DemoModel.Task>(task, ignoreCase: true));
                output.WriteLine($"{task}");
                output.WriteLine($"  accepts   {grammar}");
                output.WriteLine($"  example   {example.Prompt} {example.Answer}");
                output.WriteLine($"  layers    {path.Mask} ({path.Mask.KeptCount} of {path.Mask.LayerCount})");
            }
            return 0;
        });
        return command;
    }
}
