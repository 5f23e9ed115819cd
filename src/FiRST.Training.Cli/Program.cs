using System.CommandLine;
using FiRST.Cli;
using FiRST.Cli.Commands;

namespace FiRST.Training.Cli;

/// <summary>Entry point of <c>first-train</c>, the training tool (TorchSharp): train-demo and train-routers.</summary>
public static class Program
{
    /// <summary>Runs the tool with <paramref name="args"/>; returns the process exit code.</summary>
    /// <remarks>
    /// Ctrl+C (SIGINT) and SIGTERM stop training within one optimizer step (<see cref="CliSignals"/>): the last
    /// line says <c>stop: Cancelled after N of M steps</c>, nothing half-trained is saved, and the exit code is
    /// 130; a second signal ends the process.
    /// </remarks>
    public static int Main(string[] args) => CliSignals.Run(token => Run(args, Console.Out, Console.Error, token));

    /// <summary>Runs the tool against the given writers (tests call this in-process).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, CancellationToken.None);

    /// <summary>Runs the tool; <paramref name="cancellationToken"/> stops the command (exit code 130).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var root = new RootCommand("FiRST.Gen training: the demo model and FiRST routers (TorchSharp, CPU)")
        {
            TrainDemoCommand.Create(output, error),
            TrainRoutersCommand.Create(output, error),
        };
        return CliErrors.Invoke("first-train", root, args, output, error, cancellationToken);
    }
}
