using System.CommandLine;
using FiRST.Cli.Commands;

namespace FiRST.Cli;

/// <summary>Entry point of the <c>first</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Runs the CLI with <paramref name="args"/>; returns the process exit code.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error, Console.OpenStandardOutput);

    /// <summary>
    /// Runs the CLI against the given writers (tests call this in-process). <paramref name="openStdout"/> gives
    /// the raw byte stream generated text is written to, so bytes reach it unchanged.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, Func<Stream> openStdout)
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
        };
        return CliErrors.Invoke("first", root, args, output, error);
    }
}
