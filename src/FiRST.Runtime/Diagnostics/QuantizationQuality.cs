namespace FiRST.Runtime.Diagnostics;

/// <summary>How closely a quantized model follows its float32 original.</summary>
internal sealed record QuantizationReport
{
    /// <summary>Steps compared.</summary>
    public int Steps { get; init; }

    /// <summary>Root-mean-square difference of the logits, over every step and vocabulary entry.</summary>
    public double LogitsRmsError { get; init; }

    /// <summary>RMS of the reference logits, for scale.</summary>
    public double LogitsRms { get; init; }

    /// <summary>
    /// Share of steps where both models pick the same greedy token given the same context (the reference's own
    /// greedy continuation is fed to both).
    /// </summary>
    public double TeacherForcedAgreement { get; init; }

    /// <summary>Share of positions where the two models' own free-running greedy outputs hold the same token.</summary>
    public double FreeRunningAgreement { get; init; }

    /// <summary>Tokens before the free-running outputs first differ.</summary>
    public int FirstDivergence { get; init; }
}

/// <summary>Compares a quantized model with the float32 model it came from.</summary>
internal static class QuantizationQuality
{
    /// <summary>
    /// Runs <paramref name="steps"/> greedy steps from BOS (token 1) on both models and compares logits and
    /// choices, teacher-forced and free-running.
    /// </summary>
    public static QuantizationReport Compare(LlamaModel reference, LlamaModel quantized, int steps, int threads = 1, int bos = 1)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(quantized);
        steps = Math.Min(steps, reference.Config.MaxSeqLen);
        using var a = reference.CreateSession(new SessionOptions { Threads = threads });
        using var b = quantized.CreateSession(new SessionOptions { Threads = threads });

        // Teacher-forced: both see the reference's greedy sequence.
        var sequence = new int[steps];
        int token = bos, agree = 0;
        double sq = 0, refSq = 0;
        for (int i = 0; i < steps; i++)
        {
            var la = a.Forward(token);
            var lb = b.Forward(token);
            for (int v = 0; v < la.Length; v++)
            {
                double d = la[v] - lb[v];
                sq += d * d;
                refSq += (double)la[v] * la[v];
            }
            int next = Kernels.Ops.ArgMax(la);
            if (Kernels.Ops.ArgMax(lb) == next) agree++;
            sequence[i] = token = next;
        }

        // Free-running: the quantized model follows its own choices.
        b.Reset();
        token = bos;
        int same = 0, firstDivergence = steps;
        for (int i = 0; i < steps; i++)
        {
            token = Kernels.Ops.ArgMax(b.Forward(token));
            if (token == sequence[i]) same++;
            else if (firstDivergence == steps) firstDivergence = i;
        }

        double n = (double)steps * reference.Config.VocabSize;
        return new QuantizationReport
        {
            Steps = steps,
            LogitsRmsError = Math.Sqrt(sq / n),
            LogitsRms = Math.Sqrt(refSq / n),
            TeacherForcedAgreement = (double)agree / steps,
            FreeRunningAgreement = (double)same / steps,
            FirstDivergence = firstDivergence,
        };
    }
}
