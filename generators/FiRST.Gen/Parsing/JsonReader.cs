using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace FiRST.Gen.Parsing
{
    /// <summary>A JSON value with the line and column (both 1-based) where it starts.</summary>
    internal abstract class JsonNode
    {
        /// <summary>Creates a node that starts at <paramref name="line"/>, <paramref name="column"/>.</summary>
        protected JsonNode(int line, int column)
        {
            Line = line;
            Column = column;
        }

        /// <summary>Line where the value starts (1-based).</summary>
        public int Line { get; }

        /// <summary>Column where the value starts (1-based, in UTF-16 code units).</summary>
        public int Column { get; }

        /// <summary>What kind of value this is, for messages ("a string", "an array" …).</summary>
        public abstract string KindName { get; }
    }

    /// <summary>A JSON object: its members in file order, names unique.</summary>
    internal sealed class JsonObject : JsonNode
    {
        private readonly Dictionary<string, JsonNode> _members;

        /// <summary>Creates an object from its members.</summary>
        public JsonObject(int line, int column, Dictionary<string, JsonNode> members)
            : base(line, column) => _members = members;

        /// <inheritdoc />
        public override string KindName => "an object";

        /// <summary>True when the object has a member called <paramref name="name"/>.</summary>
        public bool Has(string name) => _members.ContainsKey(name);

        /// <summary>The member called <paramref name="name"/>, or <c>null</c>.</summary>
        public JsonNode? Get(string name) => _members.TryGetValue(name, out var node) ? node : null;

        /// <summary>The members' names (in no particular order).</summary>
        public IEnumerable<string> Names => _members.Keys;

        /// <summary>The members' values (in no particular order).</summary>
        public IEnumerable<JsonNode> Values => _members.Values;
    }

    /// <summary>A JSON array.</summary>
    internal sealed class JsonArray : JsonNode
    {
        /// <summary>Creates an array from its items.</summary>
        public JsonArray(int line, int column, IReadOnlyList<JsonNode> items)
            : base(line, column) => Items = items;

        /// <summary>The items in order.</summary>
        public IReadOnlyList<JsonNode> Items { get; }

        /// <inheritdoc />
        public override string KindName => "an array";
    }

    /// <summary>A JSON string, escapes decoded.</summary>
    internal sealed class JsonString : JsonNode
    {
        /// <summary>Creates a string value.</summary>
        public JsonString(int line, int column, string value)
            : base(line, column) => Value = value;

        /// <summary>The decoded text.</summary>
        public string Value { get; }

        /// <inheritdoc />
        public override string KindName => "a string";
    }

    /// <summary>A JSON number: its text as written and its value as a double.</summary>
    internal sealed class JsonNumber : JsonNode
    {
        /// <summary>Creates a number value.</summary>
        public JsonNumber(int line, int column, string text, double value)
            : base(line, column)
        {
            Text = text;
            Value = value;
        }

        /// <summary>The number as written in the file.</summary>
        public string Text { get; }

        /// <summary>The number's value (finite: larger numbers are a parse error).</summary>
        public double Value { get; }

        /// <summary>True when the number was written as an integer (no fraction, no exponent).</summary>
        public bool IsIntegerLiteral => Text.IndexOfAny(new[] { '.', 'e', 'E' }) < 0;

        /// <inheritdoc />
        public override string KindName => "a number";
    }

    /// <summary>A JSON <c>true</c> or <c>false</c>.</summary>
    internal sealed class JsonBool : JsonNode
    {
        /// <summary>Creates a boolean value.</summary>
        public JsonBool(int line, int column, bool value)
            : base(line, column) => Value = value;

        /// <summary>The value.</summary>
        public bool Value { get; }

        /// <inheritdoc />
        public override string KindName => Value ? "true" : "false";
    }

    /// <summary>A JSON <c>null</c>.</summary>
    internal sealed class JsonNull : JsonNode
    {
        /// <summary>Creates a null value.</summary>
        public JsonNull(int line, int column)
            : base(line, column)
        {
        }

        /// <inheritdoc />
        public override string KindName => "null";
    }

    /// <summary>The text is not valid JSON; says what was wrong and where.</summary>
    internal sealed class JsonParseException : Exception
    {
        /// <summary>Creates the exception for an error at <paramref name="line"/>, <paramref name="column"/>.</summary>
        public JsonParseException(string reason, int line, int column)
            : base($"{reason} at line {line}, column {column}")
        {
            Reason = reason;
            Line = line;
            Column = column;
        }

        /// <summary>What was wrong, without the position.</summary>
        public string Reason { get; }

        /// <summary>Line of the error (1-based).</summary>
        public int Line { get; }

        /// <summary>Column of the error (1-based, in UTF-16 code units).</summary>
        public int Column { get; }
    }

    /// <summary>
    /// A small strict JSON (RFC 8259) parser producing a tiny DOM. The generator cannot depend on
    /// System.Text.Json (a netstandard2.0 analyzer would have to ship it and may clash with the host's copy),
    /// and a profile is a few kilobytes, so a recursive-descent reader is enough. Nesting is limited to
    /// <see cref="MaxDepth"/> levels so hostile input cannot overflow the compiler's stack; the only
    /// exception it throws is <see cref="JsonParseException"/>, for the first error.
    /// </summary>
    internal sealed class JsonReader
    {
        /// <summary>Deepest nesting of objects and arrays accepted.</summary>
        public const int MaxDepth = 64;

        private readonly string _text;
        private int _pos;
        private int _line = 1;
        private int _lineStart;

        private JsonReader(string text) => _text = text;

        /// <summary>Parses <paramref name="text"/>, which must hold exactly one JSON value.</summary>
        /// <exception cref="JsonParseException">The text is not valid JSON.</exception>
        public static JsonNode Parse(string text)
        {
            var reader = new JsonReader(text ?? "");
            // A byte-order mark may survive decoding; it is not part of the JSON text.
            if (reader._text.Length > 0 && reader._text[0] == '\uFEFF')
            {
                reader._pos = 1;
                reader._lineStart = 1;
            }
            reader.SkipWhitespace();
            var value = reader.ParseValue(0);
            reader.SkipWhitespace();
            if (reader._pos < reader._text.Length) throw reader.Error("unexpected text after the JSON value");
            return value;
        }

        private int Column => _pos - _lineStart + 1;

        private JsonParseException Error(string reason) => new JsonParseException(reason, _line, Column);

        private JsonNode ParseValue(int depth)
        {
            if (_pos >= _text.Length) throw Error("unexpected end of file, expected a value");
            char c = _text[_pos];
            switch (c)
            {
                case '{': return ParseObject(depth + 1);
                case '[': return ParseArray(depth + 1);
                case '"':
                {
                    int line = _line, column = Column;
                    return new JsonString(line, column, ParseString());
                }
                case 't': return ParseLiteral("true", (l, col) => new JsonBool(l, col, true));
                case 'f': return ParseLiteral("false", (l, col) => new JsonBool(l, col, false));
                case 'n': return ParseLiteral("null", (l, col) => new JsonNull(l, col));
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
                    throw Error($"unexpected character {Describe(c)}, expected a value");
            }
        }

        private JsonObject ParseObject(int depth)
        {
            if (depth > MaxDepth) throw Error($"objects and arrays nested deeper than {MaxDepth} levels");
            int line = _line, column = Column;
            _pos++; // '{'
            var members = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
            SkipWhitespace();
            if (Peek() == '}')
            {
                _pos++;
                return new JsonObject(line, column, members);
            }
            while (true)
            {
                SkipWhitespace();
                if (Peek() != '"')
                    throw Error(_pos >= _text.Length ? "unexpected end of file, expected a property name" : $"unexpected character {Describe(_text[_pos])}, expected a property name in double quotes");
                int nameLine = _line, nameColumn = Column;
                string name = ParseString();
                SkipWhitespace();
                Expect(':', "':' after the property name");
                SkipWhitespace();
                var value = ParseValue(depth);
                if (members.ContainsKey(name))
                    throw new JsonParseException($"duplicate property \"{Truncate(name)}\"", nameLine, nameColumn);
                members.Add(name, value);
                SkipWhitespace();
                char c = Peek();
                if (c == ',')
                {
                    _pos++;
                    continue;
                }
                if (c == '}')
                {
                    _pos++;
                    return new JsonObject(line, column, members);
                }
                throw Error(_pos >= _text.Length ? "unexpected end of file, expected ',' or '}'" : $"unexpected character {Describe(c)}, expected ',' or '}}'");
            }
        }

        private JsonArray ParseArray(int depth)
        {
            if (depth > MaxDepth) throw Error($"objects and arrays nested deeper than {MaxDepth} levels");
            int line = _line, column = Column;
            _pos++; // '['
            var items = new List<JsonNode>();
            SkipWhitespace();
            if (Peek() == ']')
            {
                _pos++;
                return new JsonArray(line, column, items);
            }
            while (true)
            {
                SkipWhitespace();
                items.Add(ParseValue(depth));
                SkipWhitespace();
                char c = Peek();
                if (c == ',')
                {
                    _pos++;
                    continue;
                }
                if (c == ']')
                {
                    _pos++;
                    return new JsonArray(line, column, items);
                }
                throw Error(_pos >= _text.Length ? "unexpected end of file, expected ',' or ']'" : $"unexpected character {Describe(c)}, expected ',' or ']'");
            }
        }

        private string ParseString()
        {
            _pos++; // opening quote
            var sb = new StringBuilder();
            while (true)
            {
                if (_pos >= _text.Length) throw Error("unexpected end of file inside a string");
                char c = _text[_pos];
                if (c == '"')
                {
                    _pos++;
                    return sb.ToString();
                }
                if (c < 0x20) throw Error($"control character {Describe(c)} inside a string (escape it)");
                if (c != '\\')
                {
                    sb.Append(c);
                    _pos++;
                    continue;
                }
                _pos++; // backslash
                if (_pos >= _text.Length) throw Error("unexpected end of file inside a string");
                char e = _text[_pos];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        int code = 0;
                        for (int i = 1; i <= 4; i++)
                        {
                            if (_pos + i >= _text.Length) throw Error("unexpected end of file inside a \\u escape");
                            int digit = HexValue(_text[_pos + i]);
                            if (digit < 0)
                            {
                                _pos += i;
                                throw Error($"invalid hexadecimal digit {Describe(_text[_pos])} in a \\u escape");
                            }
                            code = code * 16 + digit;
                        }
                        sb.Append((char)code);
                        _pos += 4;
                        break;
                    default:
                        throw Error($"invalid escape sequence '\\{Printable(e)}'");
                }
                _pos++;
            }
        }

        private JsonNumber ParseNumber()
        {
            int line = _line, column = Column, start = _pos;
            if (Peek() == '-') _pos++;
            if (Peek() == '0')
            {
                _pos++;
                if (IsDigit(Peek())) throw Error("a number must not have leading zeros");
            }
            else if (IsDigit(Peek()))
            {
                while (IsDigit(Peek())) _pos++;
            }
            else
            {
                throw Error("expected a digit");
            }
            if (Peek() == '.')
            {
                _pos++;
                if (!IsDigit(Peek())) throw Error("expected a digit after the decimal point");
                while (IsDigit(Peek())) _pos++;
            }
            if (Peek() == 'e' || Peek() == 'E')
            {
                _pos++;
                if (Peek() == '+' || Peek() == '-') _pos++;
                if (!IsDigit(Peek())) throw Error("expected a digit in the exponent");
                while (IsDigit(Peek())) _pos++;
            }
            string text = _text.Substring(start, _pos - start);
            // TryParse, not Parse: on .NET Framework hosts a huge number throws OverflowException.
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                || double.IsInfinity(value) || double.IsNaN(value))
                throw new JsonParseException($"number {Truncate(text)} is out of range", line, column);
            return new JsonNumber(line, column, text, value);
        }

        private JsonNode ParseLiteral(string literal, Func<int, int, JsonNode> create)
        {
            int line = _line, column = Column;
            if (_pos + literal.Length > _text.Length || string.CompareOrdinal(_text, _pos, literal, 0, literal.Length) != 0)
                throw Error($"unexpected character {Describe(_text[_pos])}, expected a value");
            _pos += literal.Length;
            return create(line, column);
        }

        private void SkipWhitespace()
        {
            while (_pos < _text.Length)
            {
                char c = _text[_pos];
                if (c == ' ' || c == '\t')
                {
                    _pos++;
                }
                else if (c == '\n')
                {
                    _pos++;
                    NewLine();
                }
                else if (c == '\r')
                {
                    _pos++;
                    if (_pos < _text.Length && _text[_pos] == '\n') _pos++;
                    NewLine();
                }
                else
                {
                    return;
                }
            }
        }

        private void NewLine()
        {
            _line++;
            _lineStart = _pos;
        }

        private void Expect(char c, string what)
        {
            if (Peek() != c)
                throw Error(_pos >= _text.Length ? $"unexpected end of file, expected {what}" : $"unexpected character {Describe(_text[_pos])}, expected {what}");
            _pos++;
        }

        private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

        private static bool IsDigit(char c) => c >= '0' && c <= '9';

        private static int HexValue(char c)
        {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        }

        private static string Describe(char c) => c < 0x20 || c == 0x7F || char.IsSurrogate(c)
            ? "U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture)
            : "'" + c + "'";

        private static string Printable(char c) => c < 0x20 || c == 0x7F || char.IsSurrogate(c)
            ? "U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture)
            : c.ToString();

        private static string Truncate(string s) => s.Length <= 40 ? s : s.Substring(0, 40) + "…";
    }
}
