namespace FiRST.Runtime.Tests.Support;

/// <summary>Runs the <c>first</c> CLI in-process and captures stdout bytes, stdout text and stderr.</summary>
/// <remarks>Linked into FiRST.Training.Tests, where <c>first-train</c> runs through <see cref="RunWith"/>.</remarks>
internal static class FirstCli
{
    public sealed record Result(int ExitCode, byte[] StdoutBytes, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWith(FiRST.Cli.Program.Run, args);

    /// <summary>Runs a tool's in-process entry point (<c>first</c>'s or <c>first-train</c>'s).</summary>
    public static Result RunWith(Func<string[], TextWriter, TextWriter, Func<Stream>, int> entry, params string[] args)
    {
        var bytes = new MemoryStream();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = entry(args, output, error, () => new NonClosingStream(bytes));
        var raw = bytes.ToArray();
        return new Result(code, raw.Length > 0 ? raw : System.Text.Encoding.UTF8.GetBytes(output.ToString()), output.ToString(), error.ToString());
    }

    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    }
}
