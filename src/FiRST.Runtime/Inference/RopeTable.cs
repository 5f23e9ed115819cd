namespace FiRST.Runtime.Inference;

/// <summary>
/// Cosines and sines of every position's rotary angles, <c>[max_seq_len, head_size / 2]</c> each, computed
/// once per model from <see cref="RopeFrequencies"/> with the same float arithmetic as llama2.c (angle =
/// position × inverse frequency in float, so unscaled results match it bit for bit).
/// </summary>
internal sealed class RopeTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;
    private readonly int _half;

    public RopeTable(ModelConfig c)
    {
        _half = c.HeadSize / 2;
        _cos = new float[(long)c.MaxSeqLen * _half];
        _sin = new float[_cos.Length];
        var inverse = RopeFrequencies.Inverse(c);
        for (int pos = 0; pos < c.MaxSeqLen; pos++)
            for (int i = 0; i < _half; i++)
            {
                float val = pos * inverse[i];
                _cos[pos * _half + i] = MathF.Cos(val);
                _sin[pos * _half + i] = MathF.Sin(val);
            }
    }

    public ReadOnlySpan<float> Cos(int pos) => _cos.AsSpan(pos * _half, _half);

    public ReadOnlySpan<float> Sin(int pos) => _sin.AsSpan(pos * _half, _half);
}
