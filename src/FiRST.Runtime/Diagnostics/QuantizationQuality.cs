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

    /// <summary>
    /// Distinct tokens in the reference's greedy continuation. A random-weight model's continuation is a loop over
    /// a few tokens (2 to 7 on the 15M and 110M shapes), so its same-context agreement is decided at the handful of
    /// steps where the token changes.
    /// </summary>
    public int DistinctTokens { get; init; }

    /// <summary>Steps where the reference's greedy token differs from the one before it.</summary>
    public int TokenChanges { get; init; }

    /// <summary>Positions compared in <see cref="RandomContextAgreement"/>.</summary>
    public int RandomContextSteps { get; init; }

    /// <summary>
    /// Share of positions where both models pick the same greedy token after the same context of uniformly drawn
    /// tokens (seeded; runs of 64 from BOS). Many more positions decide it than a greedy continuation's few changes
    /// of token, though the positions of one run share their context: on random weights it still moves by 10 points
    /// with the draw.
    /// </summary>
    public double RandomContextAgreement { get; init; }
}

/// <summary>Compares a quantized model with the float32 model it came from.</summary>
internal static class QuantizationQuality
{
    /// <summary>Positions per random context: each run starts again from BOS with an empty cache.</summary>
    public const int RandomContextRun = 64;

    /// <summary>
    /// Runs <paramref name="steps"/> greedy steps from BOS (token 1) on both models and compares logits and
    /// choices, teacher-forced and free-running; then <paramref name="randomContextSteps"/> positions of a context
    /// of uniformly drawn tokens (runs of at most 64 from BOS, each its own context), compared by their greedy choice.
    /// </summary>
    public static QuantizationReport Compare(LlamaModel reference, LlamaModel quantized, int steps, int threads = 1, int bos = 1, int randomContextSteps = 0)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(quantized);
        ArgumentOutOfRangeException.ThrowIfNegative(randomContextSteps);
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

        int changes = 0;
        for (int i = 1; i < steps; i++) if (sequence[i] != sequence[i - 1]) changes++;

        // Random contexts: tokens 0 to 2 are unknown, BOS and EOS in Llama vocabularies.
        var rng = new Random(20261130);
        int run = Math.Min(RandomContextRun, reference.Config.MaxSeqLen), randomAgree = 0;
        for (int i = 0; i < randomContextSteps; i++)
        {
            if (i % run == 0) { a.Reset(); b.Reset(); token = bos; }
            if (Kernels.Ops.ArgMax(a.Forward(token)) == Kernels.Ops.ArgMax(b.Forward(token))) randomAgree++;
            token = reference.Config.VocabSize > 3 ? rng.Next(3, reference.Config.VocabSize) : rng.Next(reference.Config.VocabSize);
        }

        double n = (double)steps * reference.Config.VocabSize;
        return new QuantizationReport
        {
            DistinctTokens = sequence.Distinct().Count(),
            TokenChanges = changes,
            RandomContextSteps = randomContextSteps,
            RandomContextAgreement = randomContextSteps > 0 ? (double)randomAgree / randomContextSteps : 0,
            Steps = steps,
            LogitsRmsError = Math.Sqrt(sq / n),
            LogitsRms = Math.Sqrt(refSq / n),
            TeacherForcedAgreement = (double)agree / steps,
            FreeRunningAgreement = (double)same / steps,
            FirstDivergence = firstDivergence,
        };
    }
}
