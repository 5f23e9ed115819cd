using System.Runtime.InteropServices;

namespace FiRST.Runtime.Loading;

/// <summary>
/// Drops a read-only mapping's pages from the process once their bytes have been copied, converted or quantized
/// elsewhere. Pages of a mapped file that were read stay resident (and count in the process's memory) until the
/// mapping goes; a 7B bfloat16 file quantized at load would otherwise hold the whole file and its int8 copy at once.
/// The file's data stays in the page cache, and a later read of the range maps it again.
/// </summary>
internal static unsafe partial class ResidentPages
{
    private const int MadviseDontNeed = 4; // MADV_DONTNEED, Linux

    private static bool _unavailable;

    /// <summary>Releases the whole pages inside <c>[start, start + length)</c> (pages shared with a neighbour are kept); Linux only, a no-op elsewhere.</summary>
    public static void Release(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || _unavailable || length <= 0) return;
        nuint page = (nuint)Environment.SystemPageSize;
        nuint from = ((nuint)start + page - 1) & ~(page - 1), to = ((nuint)start + (nuint)length) & ~(page - 1);
        if (to <= from) return;
        try
        {
            // Advice only: a failure leaves the pages resident, which costs memory, never correctness.
            _ = Madvise((void*)from, to - from, MadviseDontNeed);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
