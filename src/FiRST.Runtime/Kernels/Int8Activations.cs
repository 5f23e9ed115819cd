using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FiRST.Runtime.Inference;
using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Kernels;

/// <summary>
/// An activation vector quantized to int8 in groups, as llama.cpp's Q8_0 activations: for each group of
/// <see cref="GroupSize"/> values, a float scale <c>max|x| / 127</c>, the values <c>round(x / scale)</c>, and
/// their sum (which a 4-bit kernel needs to undo its weights' offset). Views memory an
/// <see cref="Int8Activations"/> owns; valid until it quantizes the next vector.
/// </summary>
internal readonly unsafe struct QuantizedVector(sbyte* values, float* scales, int* sums, int length, int groupSize)
{
    /// <summary>The int8 values, 64-byte aligned; null for "no quantized vector" (the float kernels run).</summary>
    public sbyte* Values { get; } = values;

    /// <summary>One scale per group.</summary>
    public float* Scales { get; } = scales;

    /// <summary>One sum of the int8 values per group.</summary>
    public int* Sums { get; } = sums;

    /// <summary>Number of values.</summary>
    public int Length { get; } = length;

    /// <summary>Values per scale.</summary>
    public int GroupSize { get; } = groupSize;

    /// <summary>True when this holds a quantized vector.</summary>
    public bool IsSet => Values != null;
}

/// <summary>
/// Quantizes float32 activations to int8 once per matrix product (per thread in the compiled decoder), so
/// the int8 and 4-bit kernels multiply integers (<see cref="Int8DotKernels"/>) instead of widening every
/// weight to float. One instance per session or thread: it reuses its buffer, so quantizing allocates nothing.
/// </summary>
internal sealed unsafe class Int8Activations
{
    private readonly ArraySegment<float> _buffer;
    private readonly sbyte* _values;
    private readonly float* _scales;
    private readonly int* _sums;
    private readonly int _capacity;

    /// <summary>Buffers for vectors of up to <paramref name="capacity"/> values, in groups of at least 16.</summary>
    public Int8Activations(int capacity)
    {
        _capacity = capacity;
        int valueFloats = (capacity + 63) / 64 * 16;   // the int8 values, whole cache lines
        int groups = (capacity + 15) / 16;
        _buffer = AlignedBuffer.Floats(valueFloats + 2L * ((groups + 15) / 16 * 16));
        float* p = AlignedBuffer.Address(_buffer);
        _values = (sbyte*)p;
        _scales = p + valueFloats;
        _sums = (int*)(_scales + (groups + 15) / 16 * 16);
    }

    /// <summary>
    /// True when <paramref name="w"/>'s kernel multiplies int8 activations on this processor (interleaved int8,
    /// or 4-bit weights); the input must then be quantized in <paramref name="w"/>'s groups.
    /// </summary>
    public static bool AreUsedBy(Matrix w) => Int8DotKernels.Supports(w) || (w.IsFourBit && Q4Kernels.IsSupported);

    /// <summary>Longest vector this instance quantizes.</summary>
    public int Capacity => _capacity;

    /// <summary>
    /// <paramref name="x"/>'s <paramref name="length"/> values quantized in groups of <paramref name="groupSize"/>
    /// (a multiple of 16 dividing the length).
    /// </summary>
    public QuantizedVector Quantize(float* x, int length, int groupSize)
    {
        if (length > _capacity || groupSize % 16 != 0 || length % groupSize != 0)
            throw new ArgumentException($"cannot quantize {length} activations in groups of {groupSize} (capacity {_capacity})");
        Quantize(x, length, groupSize, _values, _scales, _sums);
        return new QuantizedVector(_values, _scales, _sums, length, groupSize);
    }

    /// <summary>
    /// Symmetric int8 quantization of <paramref name="length"/> values in groups of <paramref name="groupSize"/>
    /// (dividing the length): scale <c>max|x| / 127</c>, values <c>round(x / scale)</c> (ties to even), and, where
    /// <paramref name="sums"/> is given, each group's sum. The one implementation for weights
    /// (<see cref="Loading.Quantizer"/>) and activations; 512-bit where the groups are whole vectors, the same
    /// results as the scalar loop.
    /// </summary>
    internal static void Quantize(float* x, int length, int groupSize, sbyte* q, float* scales, int* sums)
    {
        bool vector = Avx512F.IsSupported && groupSize % 16 == 0;
        for (int g = 0, i = 0; i < length; g++)
        {
            float* src = x + i;
            float max = 0;
            int k = 0;
            if (vector)
            {
                var m = Vector512<float>.Zero;
                for (; k < groupSize; k += 16) m = Vector512.Max(m, Vector512.Abs(Vector512.Load(src + k)));
                max = HorizontalMax(m);
            }
            else
                for (; k < groupSize; k++) max = Math.Max(max, Math.Abs(src[k]));
            float scale = max / 127f;
            float inverse = scale == 0 ? 0 : 1f / scale;
            scales[g] = scale;
            int sum = 0;
            k = 0;
            if (vector)
            {
                var inv = Vector512.Create(inverse);
                var s = Vector512<int>.Zero;
                for (; k < groupSize; k += 16)
                {
                    // Rounds to nearest even (the default rounding mode), as Math.Round does below.
                    var r = Avx512F.ConvertToVector512Int32(Vector512.Load(src + k) * inv);
                    s += r;
                    Avx512F.ConvertToVector128SByteWithSaturation(r).Store(q + i + k);
                }
                sum = Vector512.Sum(s);
            }
            else
                for (; k < groupSize; k++)
                {
                    int v = (int)Math.Round(src[k] * inverse, MidpointRounding.ToEven);
                    q[i + k] = (sbyte)v;
                    sum += v;
                }
            if (sums != null) sums[g] = sum;
            i += groupSize;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMax(Vector512<float> v)
    {
        var m256 = Vector256.Max(v.GetLower(), v.GetUpper());
        var m128 = Vector128.Max(m256.GetLower(), m256.GetUpper());
        var m64 = Vector128.Max(m128, Vector128.Shuffle(m128, Vector128.Create(2, 3, 0, 1)));
        return Math.Max(m64.GetElement(0), m64.GetElement(1));
    }
}
