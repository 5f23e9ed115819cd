namespace FiRST.Runtime.Sampling;

/// <summary>
/// Picks the next token: greedy, temperature, top-k and top-p, with llama2.c's xorshift random numbers so a
/// seed gives the same choices as its <c>run.c</c>. Buffers are allocated once; sampling allocates nothing.
/// </summary>
public sealed class Sampler
{
    private readonly SamplerOptions _options;
    private readonly Candidate[] _candidates;
    private readonly float[] _probs;
    private ulong _state;

    /// <summary>Creates a sampler for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public Sampler(int vocabSize, SamplerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _candidates = new Candidate[vocabSize];
        _probs = new float[vocabSize];
        _state = options.Seed;
    }

    /// <summary>The options in use.</summary>
    public SamplerOptions Options => _options;

    /// <summary>Chooses a token from <paramref name="logits"/> (not modified).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (_options.Temperature == 0f) return Kernels.Ops.ArgMax(logits);

        var probs = _probs.AsSpan(0, logits.Length);
        for (int i = 0; i < probs.Length; i++) probs[i] = logits[i] / _options.Temperature;
        Kernels.Ops.Softmax(probs);
        float coin = NextFloat();

        bool topP = _options.TopP > 0 && _options.TopP < 1;
        bool topK = _options.TopK > 0 && _options.TopK < probs.Length;
        if (!topP && !topK) return SampleAll(probs, coin);
        return SampleTruncated(probs, coin, topP ? _options.TopP : 1f, topK ? _options.TopK : probs.Length);
    }

    /// <summary>True when the sampler is greedy (temperature 0): self-speculation then compares argmaxes.</summary>
    internal bool IsGreedy => _options.Temperature == 0f;

    /// <summary>
    /// The distribution <see cref="Sample"/> draws from for <paramref name="logits"/>: softmax at the temperature,
    /// then, with top-k or top-p, zero outside the kept candidates and renormalised. Speculative rejection
    /// sampling compares these for the draft and the full model. Not for greedy samplers.
    /// </summary>
    internal void Distribution(ReadOnlySpan<float> logits, Span<float> probs)
    {
        for (int i = 0; i < probs.Length; i++) probs[i] = logits[i] / _options.Temperature;
        Kernels.Ops.Softmax(probs);
        bool topP = _options.TopP > 0 && _options.TopP < 1;
        bool topK = _options.TopK > 0 && _options.TopK < probs.Length;
        if (!topP && !topK) return;
        float p = topP ? _options.TopP : 1f;
        int k = topK ? _options.TopK : probs.Length;
        // The candidates SampleTruncated draws from, with the same weights.
        var nucleus = Nucleus(probs, p, k, out float mass);
        probs.Clear();
        foreach (var c in nucleus) probs[c.Index] = c.Probability / mass;
    }

    /// <summary>A uniform number in [0, 1) from the sampler's generator.</summary>
    internal float NextUniform() => NextFloat();

    /// <summary>A token drawn from <paramref name="probs"/> (summing to <paramref name="total"/>) with the sampler's generator.</summary>
    internal int Draw(ReadOnlySpan<float> probs, float total = 1f)
    {
        float coin = NextFloat() * total, cdf = 0;
        int last = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] <= 0) continue;
            cdf += probs[i];
            last = i;
            if (coin < cdf) return i;
        }
        return last; // rounding errors
    }

    private static int SampleAll(ReadOnlySpan<float> probs, float coin)
    {
        float cdf = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            cdf += probs[i];
            if (coin < cdf) return i;
        }
        return probs.Length - 1; // rounding errors
    }

    /// <summary>Draws from the top <paramref name="k"/> candidates within the nucleus of mass <paramref name="topP"/>.</summary>
    private int SampleTruncated(ReadOnlySpan<float> probs, float coin, float topP, int k)
    {
        var nucleus = Nucleus(probs, topP, k, out float mass);
        float r = coin * mass;
        float cdf = 0;
        foreach (var c in nucleus)
        {
            cdf += c.Probability;
            if (r < cdf) return c.Index;
        }
        return nucleus[^1].Index;
    }

    /// <summary>
    /// The likely candidates sorted, cut to the top <paramref name="k"/> and then to the smallest prefix whose
    /// mass exceeds <paramref name="topP"/> (all of them when none does); <paramref name="mass"/> is that
    /// prefix's total. Sampling and speculative rejection sampling both use it, so they see one distribution.
    /// </summary>
    private ReadOnlySpan<Candidate> Nucleus(ReadOnlySpan<float> probs, float topP, int k, out float mass)
    {
        // Tokens below this cutoff cannot be in the nucleus; dropping them first keeps the sort short
        // (llama2.c's trick). Without top-p every token is a candidate for top-k.
        float cutoff = topP < 1 ? (1f - topP) / (probs.Length - 1) : float.NegativeInfinity;
        int n = 0;
        for (int i = 0; i < probs.Length; i++)
            if (probs[i] >= cutoff) _candidates[n++] = new Candidate(i, probs[i]);
        var candidates = _candidates.AsSpan(0, n);
        HeapSort(candidates);
        if (n > k) candidates = candidates[..k];

        mass = 0;
        for (int i = 0; i < candidates.Length; i++)
        {
            mass += candidates[i].Probability;
            if (mass > topP) return candidates[..(i + 1)];
        }
        return candidates;
    }

    /// <summary>xorshift* as in llama2.c: the same seed gives the same sequence.</summary>
    private uint NextUInt()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return (uint)((_state * 0x2545F4914F6CDD1DUL) >> 32);
    }

    private float NextFloat() => (NextUInt() >> 8) / 16777216.0f;

    private readonly record struct Candidate(int Index, float Probability);

    /// <summary>
    /// True when <paramref name="a"/> comes before <paramref name="b"/>: descending probability, ascending index on
    /// ties (the order of a stable sort, which glibc's qsort gives llama2.c).
    /// </summary>
    private static bool Before(in Candidate a, in Candidate b) =>
        a.Probability > b.Probability || (a.Probability == b.Probability && a.Index < b.Index);

    /// <summary>
    /// In-place heap sort into <see cref="Before"/> order. Written out because <c>Span.Sort</c> with a comparer
    /// allocates a delegate on every call, and sampling runs once per token.
    /// </summary>
    private static void HeapSort(Span<Candidate> a)
    {
        // A heap whose root is the element that comes last; repeatedly move the root to the end.
        for (int i = a.Length / 2 - 1; i >= 0; i--) SiftDown(a, i, a.Length);
        for (int end = a.Length - 1; end > 0; end--)
        {
            (a[0], a[end]) = (a[end], a[0]);
            SiftDown(a, 0, end);
        }
    }

    private static void SiftDown(Span<Candidate> a, int root, int length)
    {
        while (true)
        {
            int child = 2 * root + 1;
            if (child >= length) return;
            if (child + 1 < length && Before(a[child], a[child + 1])) child++;
            if (!Before(a[root], a[child])) return;
            (a[root], a[child]) = (a[child], a[root]);
            root = child;
        }
    }
}
