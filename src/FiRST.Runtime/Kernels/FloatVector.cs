using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// The float32 vector operations the dot-product kernels use, over one vector width, so that each kernel is
/// written once as a generic method (<c>Kernel&lt;TV, TVec&gt;(...) where TV : struct, IFloatVector&lt;TVec&gt;</c>)
/// instead of once per width. The JIT compiles a generic method separately for each struct type argument
/// and the static abstract members below are plain static calls that it inlines, so
/// <c>Kernel&lt;V512, Vector512&lt;float&gt;&gt;</c> is the same machine code as a kernel written against
/// <see cref="Vector512{T}"/> directly, with <see cref="Count"/> a constant (measured against the former
/// hand-written copies: tests/FiRST.Benchmarks, <c>-- kernels</c>). Callers choose the width once per call.
/// The kernels hold the vector type itself (<typeparamref name="TVec"/>) in their locals, not a struct
/// wrapping it: with a wrapper the JIT (.NET 10) no longer folds loads into the fused multiply-adds and adds a
/// register copy after each, which the disassembly showed in every loop.
/// </summary>
/// <typeparam name="TVec"><see cref="Vector512{T}"/>, <see cref="Vector256{T}"/> or <see cref="Vector128{T}"/> of float.</typeparam>
internal unsafe interface IFloatVector<TVec> where TVec : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    /// <summary>True when <see cref="LoadWidened"/> runs as vector instructions on this processor.</summary>
    static abstract bool CanWidenInt8 { get; }

    /// <summary><see cref="Count"/> floats from <paramref name="p"/> (no alignment needed).</summary>
    static abstract TVec Load(float* p);

    /// <summary><see cref="Count"/> int8 values from <paramref name="p"/>, converted to float.</summary>
    static abstract TVec LoadWidened(sbyte* p);

    /// <summary>
    /// <see cref="Count"/> bfloat16 values from <paramref name="p"/> as float: each 16-bit lane zero-extended
    /// to 32 bits and shifted left by 16, which is exact (bfloat16 is the top half of a float32).
    /// </summary>
    static abstract TVec LoadBFloat16(ushort* p);

    /// <summary><paramref name="value"/> in every lane.</summary>
    static abstract TVec Create(float value);

    /// <summary><c>a * b + c</c> per lane, rounded once.</summary>
    static abstract TVec FusedMultiplyAdd(TVec a, TVec b, TVec c);

    /// <summary><c>a + b</c> per lane.</summary>
    static abstract TVec Add(TVec a, TVec b);

    /// <summary>The sum of the lanes.</summary>
    static abstract float Sum(TVec v);
}

/// <summary>512-bit vectors (16 floats): AVX-512.</summary>
internal readonly unsafe struct V512 : IFloatVector<Vector512<float>>
{
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512<float>.Count;
    }

    public static bool CanWidenInt8
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx512F.IsSupported;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadWidened(sbyte* p) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));

    /// <summary>
    /// One 256-bit load zero-extended to 512 bits (vpmovzxwd), then shifted. Written with the AVX-512 intrinsics:
    /// the portable <c>Vector512.WidenLower</c> of a widened 256-bit vector ran the kernel at a third of the speed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadBFloat16(ushort* p) => Avx512F.IsSupported
        ? Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle()
        : Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Create(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}

/// <summary>256-bit vectors (8 floats): AVX2, or emulated where the processor lacks it.</summary>
internal readonly unsafe struct V256 : IFloatVector<Vector256<float>>
{
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256<float>.Count;
    }

    public static bool CanWidenInt8
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx2.IsSupported;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* p) => Vector256.Load(p);

    /// <summary>Reads 8 bytes only (one 64-bit load), not a full 128-bit register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadWidened(sbyte* p) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(*(long*)p).AsSByte()));

    /// <summary>One 128-bit load zero-extended to 256 bits (vpmovzxwd with AVX2), then shifted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadBFloat16(ushort* p) => Avx2.IsSupported
        ? Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.Load(p)), 16).AsSingle()
        : Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Create(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}

/// <summary>
/// 128-bit vectors (4 floats): SSE on x64 processors without AVX2, Arm's AdvSimd (NEON). Without it the 256-bit
/// kernels would run on emulated vectors, measured 40 times slower than this on an x86-64-v2 NativeAOT build.
/// </summary>
internal readonly unsafe struct V128 : IFloatVector<Vector128<float>>
{
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector128<float>.Count;
    }

    public static bool CanWidenInt8
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector128.IsHardwareAccelerated;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(float* p) => Vector128.Load(p);

    /// <summary>Reads 4 bytes only, widened sbyte to short to int, then converted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadWidened(sbyte* p) =>
        Vector128.ConvertToSingle(Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(int*)p).AsSByte())));

    /// <summary>Reads 4 bfloat16 values (8 bytes): each widened to 32 bits and shifted into a float's top half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadBFloat16(ushort* p) =>
        Vector128.ShiftLeft(Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)p).AsUInt16()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Create(float value) => Vector128.Create(value);

    /// <summary>Fused where the processor has FMA (Arm, x64 with FMA3), else a multiply then an add (rounded twice).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> FusedMultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> v) => Vector128.Sum(v);
}
