using System.CommandLine;
using System.Runtime.InteropServices;
using FiRST.Cli.Commands;

namespace FiRST.Cli;

/// <summary>Entry point of the <c>first</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Runs the CLI with <paramref name="args"/>; returns the process exit code.</summary>
    /// <remarks>
    /// Ctrl+C (SIGINT) and SIGTERM cancel the running command; generate stops within one token, prints what it
    /// has (the statistics line with <c>stop: Cancelled</c>) and exits with 130. The other commands do not watch
    /// for it yet; a second SIGTERM ends them (a second Ctrl+C, measured, does not).
    /// </remarks>
    public static int Main(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = !cancel.IsCancellationRequested;
            cancel.Cancel();
        }
        Console.CancelKeyPress += OnCancel;
        // A second SIGTERM, like a second Ctrl+C, ends the process: commands that do not watch the token
        // (bench, eval, calibrate) would otherwise outlive every kill but SIGKILL.
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = !cancel.IsCancellationRequested;
            cancel.Cancel();
        });
        try
        {
            return Run(args, Console.Out, Console.Error, Console.OpenStandardOutput, cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }

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
