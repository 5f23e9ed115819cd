using Microsoft.CodeAnalysis;

namespace FiRST.Gen.Model
{
    /// <summary>
    /// A diagnostic waiting to be reported, as equatable values (the descriptor compares by value, the
    /// location is a <see cref="LocationInfo"/>), so results carrying diagnostics still cache.
    /// </summary>
    /// <param name="Descriptor">Which diagnostic (see <see cref="DiagnosticDescriptors"/>).</param>
    /// <param name="Location">Where it points; <c>null</c> reports it without a location.</param>
    /// <param name="MessageArgs">Arguments of the descriptor's message format.</param>
    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> MessageArgs)
    {
        /// <summary>Creates a diagnostic of <paramref name="descriptor"/> at <paramref name="location"/>.</summary>
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] messageArgs)
            => new DiagnosticInfo(descriptor, location, new EquatableArray<string>(messageArgs));

        /// <summary>The Roslyn diagnostic to report.</summary>
        public Diagnostic ToDiagnostic()
        {
            var args = new object[MessageArgs.Count];
            for (int i = 0; i < args.Length; i++) args[i] = MessageArgs[i];
            return Diagnostic.Create(Descriptor, Location?.ToLocation(), args);
        }
    }
}
