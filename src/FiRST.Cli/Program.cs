using System.CommandLine;
using FiRST.Cli.Commands;

namespace FiRST.Cli;

/// <summary>Entry point of the <c>first</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Runs the CLI with <paramref name="args"/>; returns the process exit code.</summary>
    /// <remarks>
    /// Ctrl+C (SIGINT) and SIGTERM cancel the running command (<see cref="CliSignals"/>): generate, bench, eval,
    /// calibrate, quantize and make-model stop within one token or step (eval: one prompt's answer; quantize: not
    /// while loading), print what they have and exit with 130; a second signal ends the process.
    /// </remarks>
    public static int Main(string[] args) =>
        CliSignals.Run(token => Run(args, Console.Out, Console.Error, Console.OpenStandardOutput, token));

    /// <summary>
    /// Runs the CLI against the given writers (tests call this in-process). <paramref name="openStdout"/> gives
    /// the raw byte stream generated text is written to, so bytes reach it unchanged.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, Func<Stream> openStdout) =>
        Run(args, output, error, openStdout, CancellationToken.None);

    /// <summary>Runs the CLI; <paramref name="cancellationToken"/> stops the command (exit code 130).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, Func<Stream> openStdout, CancellationToken cancellationToken)
    {
        var root = new RootCommand("FiRST.Gen: fast task-specialised decoding for Llama-family models")
        {
            GenerateCommand.Create(error, openStdout),
            InspectCommand.Create(output),
            MakeModelCommand.Create(output, error),
            BenchCommand.Create(output, error),
            QuantizeCommand.Create(output, error),
            EvalCommand.Create(output, error),
            CalibrateCommand.Create(output, error),
            TasksCommand.Create(output),
            ExportCommand.Create(output, error),
        };
        return CliErrors.Invoke("first", root, args, output, error, cancellationToken);
    }
}
