// netstandard2.0 lacks this marker type, which the compiler needs for records and init-only setters.
// Internal, so it never clashes with the real type of a newer framework.

namespace System.Runtime.CompilerServices
{
    /// <summary>Marks init-only setters (polyfill for netstandard2.0).</summary>
    internal static class IsExternalInit
    {
    }
}
