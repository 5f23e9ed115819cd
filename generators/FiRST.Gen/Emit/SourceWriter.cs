using System.Text;

namespace FiRST.Gen.Emit
{
    /// <summary>
    /// Builds generated source line by line with four-space indentation and <c>\n</c> line ends, so the output
    /// is the same on every platform (snapshot tests compare it byte for byte).
    /// </summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _sb = new StringBuilder();
        private int _indent;

        /// <summary>Writes one line at the current indentation (an empty line stays empty).</summary>
        public SourceWriter Line(string text = "")
        {
            if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
            _sb.Append('\n');
            return this;
        }

        /// <summary>Writes <c>{</c> and indents what follows.</summary>
        public SourceWriter Open()
        {
            Line("{");
            _indent++;
            return this;
        }

        /// <summary>Unindents and writes <c>}</c> followed by <paramref name="suffix"/> (e.g. <c>;</c>).</summary>
        public SourceWriter Close(string suffix = "")
        {
            _indent--;
            return Line("}" + suffix);
        }

        /// <inheritdoc />
        public override string ToString() => _sb.ToString();
    }
}
