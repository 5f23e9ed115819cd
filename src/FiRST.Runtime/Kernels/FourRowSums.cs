using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// The float side of the int8 and 4-bit kernels' blocks of four rows: a group's integer sums, lanes 0-3 of
/// <c>a01</c> for row 0 and 4-7 for row 1 (<c>a23</c>: rows 2 and 3), scaled by each row's weight scale times
/// the group's activation scale and added up across groups; at the end, each row's lanes summed.
/// </summary>
internal static unsafe class FourRowSums
{
    /// <summary>
    /// Adds one group: <paramref name="scales"/> are the block's four row scales of the group (one broadcast
    /// load puts them in both halves, and an in-lane permute gives each row's four lanes its own, with no
    /// cross-lane shuffle).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(Vector256<int> a01, Vector256<int> a23, float* scales, float activationScale,
                                  ref Vector256<float> f01, ref Vector256<float> f23)
    {
        var s = Avx.BroadcastVector128ToVector256(scales) * Vector256.Create(activationScale);
        f01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a01), Avx.PermuteVar(s, Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1)), f01);
        f23 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a23), Avx.PermuteVar(s, Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3)), f23);
    }

    /// <summary>Each row's total: <c>o[0..3]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> f01, Vector256<float> f23, float* o)
    {
        o[0] = Vector128.Sum(f01.GetLower());
        o[1] = Vector128.Sum(f01.GetUpper());
        o[2] = Vector128.Sum(f23.GetLower());
        o[3] = Vector128.Sum(f23.GetUpper());
    }
}
