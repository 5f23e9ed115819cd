using System.CommandLine;
using FiRST.Cli;
using FiRST.Cli.Commands;

namespace FiRST.Training.Cli;

/// <summary>Entry point of <c>first-train</c>, the training tool (TorchSharp): train-demo and train-routers.</summary>
public static class Program
{
    /// <summary>Runs the tool with <paramref name="args"/>; returns the process exit code.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the tool against the given writers (tests call this in-process).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("FiRST.Gen training: the demo model and FiRST routers (TorchSharp, CPU)")
        {
            TrainDemoCommand.Create(output, error),
            TrainRoutersCommand.Create(output, error),
        };
        return CliErrors.Invoke("first-train", root, args, output, error);
    }
}
