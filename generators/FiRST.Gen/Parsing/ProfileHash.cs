using System.Security.Cryptography;
using System.Text;

namespace FiRST.Gen.Parsing
{
    /// <summary>
    /// A short fingerprint of a profile's text for the generated file's header, so a snapshot of the generated
    /// code shows when the profile under it changed even where the code itself did not (a whitespace edit, a
    /// measured number the emitter does not use).
    /// </summary>
    internal static class ProfileHash
    {
        /// <summary>
        /// The first 16 hex digits (lower case) of the SHA-256 of <paramref name="text"/> in UTF-8, with CRLF and
        /// CR line ends read as LF first: a checkout that converts line ends must not change the header.
        /// </summary>
        public static string Of(string text)
        {
            string normalized = text.Replace("\r\n", "\n").Replace('\r', '\n');
            byte[] hash;
            using (var sha = SHA256.Create()) hash = sha.ComputeHash(Encoding.UTF8.GetBytes(normalized));
            var sb = new StringBuilder(16);
            for (int i = 0; i < 8; i++) sb.Append(hash[i].ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            return sb.ToString();
        }
    }
}
