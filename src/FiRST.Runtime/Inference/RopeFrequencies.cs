namespace FiRST.Runtime.Inference;

/// <summary>
/// The inverse frequency of each rotary pair of a head, <c>[head_size / 2]</c>: how far pair <c>i</c> turns per
/// position, with the model's scaling applied. Computed once per model; the runtime's table and the training
/// module both take them from here.
/// </summary>
internal static class RopeFrequencies
{
    public static float[] Inverse(ModelConfig c)
    {
        int half = c.HeadSize / 2;
        var result = new float[half];
        var s = c.RopeScaling;
        if (s.Type == RopeScalingType.Default)
        {
            // llama2.c's float arithmetic, kept so unscaled models match run.c's output bit for bit.
            for (int i = 0; i < half; i++) result[i] = 1.0f / MathF.Pow(c.RopeTheta, 2 * i / (float)c.HeadSize);
            return result;
        }
        // Scaled types in double (transformers' modeling_rope_utils.py formulas), rounded to float once at the end.
        for (int i = 0; i < half; i++)
        {
            double inv = 1.0 / Math.Pow(c.RopeTheta, 2.0 * i / c.HeadSize);
            result[i] = (float)(s.Type == RopeScalingType.Linear ? inv / s.Factor : Llama3(inv, s));
        }
        return result;
    }

    /// <summary>
    /// transformers' <c>_compute_llama3_parameters</c> for one frequency: a wavelength longer than the original
    /// context over <c>low_freq_factor</c> is divided by the factor, one shorter than the original context over
    /// <c>high_freq_factor</c> is kept, and between the two the result is interpolated with
    /// <c>smooth = (original / wavelength - low) / (high - low)</c>.
    /// </summary>
    private static double Llama3(double inv, RopeScaling s)
    {
        double original = s.OriginalMaxPositionEmbeddings;
        double lowFreqWavelen = original / s.LowFreqFactor, highFreqWavelen = original / s.HighFreqFactor;
        double wavelen = 2 * Math.PI / inv;
        if (wavelen > lowFreqWavelen) return inv / s.Factor;
        if (wavelen < highFreqWavelen) return inv;
        double smooth = (original / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        return (1 - smooth) * inv / s.Factor + smooth * inv;
    }
}
