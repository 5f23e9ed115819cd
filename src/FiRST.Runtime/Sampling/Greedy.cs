using FiRST.Runtime.Kernels;

namespace FiRST.Runtime.Sampling;

/// <summary>
/// Greedy decoding, written once: the most likely token at every step. Evaluation, calibration, benchmarks
/// and the samples all decode through this, so "greedy" means the same thing everywhere (ties go to the
/// lowest token id, as llama2.c's <c>sample_argmax</c>).
/// </summary>
public static class Greedy
{
    /// <summary>The index of the largest logit; the first one on ties.</summary>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty.</exception>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("no logits", nameof(logits));
        return Ops.ArgMax(logits);
    }

    /// <summary>
    /// Greedy continuation of <paramref name="prompt"/> from position 0 (the session is reset first): at most
    /// <paramref name="maxTokens"/> tokens before <paramref name="stopToken"/>, which is appended when it comes;
    /// fewer if the context fills. A negative <paramref name="stopToken"/> never stops.
    /// </summary>
    public static List<int> Decode(InferenceSession session, ReadOnlySpan<int> prompt, int maxTokens, int stopToken = -1)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        session.Reset();
        int next = ArgMax(session.Prefill(prompt));
        var tokens = new List<int>();
        while (next != stopToken && tokens.Count < maxTokens && session.Remaining > 0)
        {
            tokens.Add(next);
            next = ArgMax(session.Forward(next));
        }
        if (next == stopToken) tokens.Add(next);
        return tokens;
    }

    /// <summary>
    /// Runs <paramref name="steps"/> decode steps from <paramref name="token"/>, each feeding back the most
    /// likely next token, and returns the last one. Allocates nothing: the loop benchmarks time.
    /// </summary>
    /// <exception cref="ContextFullException">The steps do not fit in the session's remaining context.</exception>
    public static int Steps(InferenceSession session, int token, int steps) => Steps(session, token, steps, CancellationToken.None);

    /// <summary>
    /// <see cref="Steps(InferenceSession, int, int)"/> that stops before the next step once
    /// <paramref name="cancellationToken"/> is cancelled (Ctrl+C in a benchmark), throwing
    /// <see cref="OperationCanceledException"/>. The check is one read per step and allocates nothing.
    /// </summary>
    /// <exception cref="ContextFullException">The steps do not fit in the session's remaining context.</exception>
    public static int Steps(InferenceSession session, int token, int steps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        for (int i = 0; i < steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            token = ArgMax(session.Forward(token));
        }
        return token;
    }
}
