using FiRST.Runtime.Inference;
using FiRST.Runtime.Kernels;
using FiRST.Runtime.Sampling;

namespace FiRST.Runtime.Decoding;

/// <summary>
/// One session's LayerSkip self-speculation over a fixed list of kept layers: the first
/// <see cref="SpeculationOptions.DraftLayers"/> draft, the rest verify. A round feeds one token, drafts up to
/// <c>k</c> more one at a time through the draft layers and the shared classifier, then runs all of them
/// through the verify layers as one batch (each weight read once for the round), starting from the draft's
/// hidden states, whose KV below the exit is already right. It keeps the longest prefix the full path agrees
/// with plus the full path's own next token, and the session's position moves past what was kept: the KV of
/// rejected drafts lies beyond it and is overwritten before anything attends to it.
/// </summary>
/// <remarks>
/// Greedy rounds compare argmaxes, so the output is the path's greedy output (the batch kernels sum in the
/// same order as the one-token kernels for float32 matrices below <see cref="MatVec.StreamingBytes"/>; for
/// larger or int8 matrices the order differs and an exact tie could fall the other way). Sampled rounds use
/// speculative rejection sampling (Leviathan et al., 2023): a draft token <c>x</c> stays with probability
/// <c>min(1, p(x) / q(x))</c>, and the first rejected one is replaced by a draw from <c>max(0, p - q)</c>, so
/// every token follows the full path's distribution <c>p</c>. Allocates nothing per round.
/// </remarks>
internal sealed class SelfSpeculation
{
    private readonly int[] _draft, _verify;
    private readonly CompiledDecoder? _compiledDraft;
    private readonly int _k, _dim, _vocab;
    private readonly float[] _hidden;
    private readonly int[] _tokens;
    private readonly float[] _logits;
    private float[]? _q, _p;
    // Drafts the last round's verify pass kept.
    private int _kept;

    /// <param name="plan">Draft layers and lookahead.</param>
    /// <param name="kept">The session's kept layers, ascending (the first <c>E</c> draft).</param>
    /// <param name="compiledDraft">The generated draft half's decoder, or null to draft on the generic loop.</param>
    /// <param name="config">The model's shape.</param>
    public SelfSpeculation(SpeculationOptions plan, ReadOnlySpan<int> kept, CompiledDecoder? compiledDraft, ModelConfig config)
    {
        plan.EnsureFits(kept.Length);
        Plan = plan;
        _draft = kept[..plan.DraftLayers].ToArray();
        _verify = kept[plan.DraftLayers..].ToArray();
        _compiledDraft = compiledDraft;
        // The verify pass is one batch: at most the prefill chunk.
        _k = Math.Min(plan.Lookahead, Transformer.PrefillChunk - 1);
        _dim = config.Dim;
        _vocab = config.VocabSize;
        _hidden = new float[(_k + 1) * _dim];
        _tokens = new int[_k + 1];
        _logits = new float[(_k + 1) * _vocab];
    }

    /// <summary>The plan this runs.</summary>
    public SpeculationOptions Plan { get; }

    /// <summary>True when the draft runs on a generated draft half's compiled decoder.</summary>
    public bool DraftsCompiled => _compiledDraft is not null;

    /// <summary>Tokens drafted so far.</summary>
    public long Drafted { get; private set; }

    /// <summary>Drafted tokens the verify pass kept.</summary>
    public long Accepted { get; private set; }

    /// <summary>The layers the draft and verify halves run together, in order (the session's kept layers).</summary>
    public int Layers => _draft.Length + _verify.Length;

    /// <summary>
    /// One round from <paramref name="token"/> at <paramref name="pos"/> (at least two positions must be
    /// free, and <paramref name="limit"/> at least 2): writes the next tokens to <paramref name="output"/> (at
    /// least <c>k + 1</c> long) and returns how many, at most <paramref name="limit"/>. The first <c>n - 1</c>
    /// of them and <paramref name="token"/> now sit at positions <c>pos .. pos + n - 1</c>; the last is not yet
    /// fed, like a sampled token after a forward step. Drafting stops at a token of <paramref name="stops"/>:
    /// nothing after it is wanted, and answers end there (short answers would otherwise spend most of their
    /// last round on tokens past the end).
    /// </summary>
    public int Round(Transformer t, KvCache cache, int pos, int token, Sampler sampler, Span<int> output, int maxSeqLen,
                     int limit = int.MaxValue, IReadOnlySet<int>? stops = null)
    {
        int k = Math.Min(_k, Math.Min(maxSeqLen - pos - 1, limit - 1));
        bool greedy = sampler.IsGreedy;
        if (!greedy)
        {
            _q ??= new float[_k * _vocab];
            _p ??= new float[_vocab];
        }

        // Draft: tokens 0..k-1 give the next token from the exit; token k only needs its hidden state, for the
        // full path's token after the last draft (the bonus), unless the draft ended at a stop token.
        bool bonus = true;
        _tokens[0] = token;
        for (int i = 0; ; i++)
        {
            t.Embed(_tokens[i]);
            ReadOnlySpan<float> logits = default;
            if (_compiledDraft is not null)
            {
                logits = _compiledDraft.Step(cache, pos + i);
                if (i < k) t.EnsureFinite(logits);
            }
            else
            {
                foreach (int layer in _draft) t.Layer(layer, pos + i, cache);
                if (i < k) logits = t.Logits();
            }
            t.Hidden.CopyTo(_hidden.AsSpan(i * _dim, _dim));
            if (i == k) break;
            if (greedy) _tokens[i + 1] = Ops.ArgMax(logits);
            else
            {
                var q = _q.AsSpan(i * _vocab, _vocab);
                sampler.Distribution(logits, q);
                _tokens[i + 1] = sampler.Draw(q);
            }
            if (stops is not null && stops.Contains(_tokens[i + 1]))
            {
                k = i + 1;
                bonus = false;
                break;
            }
        }

        // Verify: the hidden states through the remaining layers in one batch.
        int rows = bonus ? k + 1 : k;
        _hidden.AsSpan(0, rows * _dim).CopyTo(t.BeginBatch(rows));
        foreach (int layer in _verify) t.LayerBatch(layer, pos, rows, cache);
        t.BatchLogits(rows, _logits);

        int n = greedy ? AcceptGreedy(k, bonus, output) : AcceptSampled(k, bonus, sampler, output);
        Drafted += k;
        Accepted += _kept;
        return n;
    }

    private int AcceptGreedy(int k, bool bonus, Span<int> output)
    {
        for (int j = 0; j < k; j++)
        {
            int full = Ops.ArgMax(_logits.AsSpan(j * _vocab, _vocab));
            output[j] = full;
            if (full != _tokens[j + 1]) { _kept = j; return j + 1; }
        }
        _kept = k;
        if (!bonus) return k;
        output[k] = Ops.ArgMax(_logits.AsSpan(k * _vocab, _vocab));
        return k + 1;
    }

    private int AcceptSampled(int k, bool bonus, Sampler sampler, Span<int> output)
    {
        var p = _p.AsSpan();
        for (int j = 0; j < k; j++)
        {
            sampler.Distribution(_logits.AsSpan(j * _vocab, _vocab), p);
            int x = _tokens[j + 1];
            output[j] = Decide(p, _q.AsSpan(j * _vocab, _vocab), x, sampler, out bool accepted);
            if (!accepted) { _kept = j; return j + 1; }
        }
        _kept = k;
        if (!bonus) return k;
        sampler.Distribution(_logits.AsSpan(k * _vocab, _vocab), p);
        output[k] = sampler.Draw(p);
        return k + 1;
    }

    /// <summary>
    /// Speculative rejection sampling of one drafted token <paramref name="x"/> (drawn from
    /// <paramref name="q"/>): kept with probability <c>min(1, p(x) / q(x))</c>, else replaced by a draw from
    /// <c>max(0, p - q)</c>. The result follows <paramref name="p"/>, which is overwritten.
    /// </summary>
    internal static int Decide(Span<float> p, ReadOnlySpan<float> q, int x, Sampler sampler, out bool accepted)
    {
        accepted = sampler.NextUniform() * q[x] < p[x];
        return accepted ? x : Residual(p, q, sampler);
    }

    /// <summary>
    /// A draw from <c>max(0, p - q)</c>, normalised: what a rejected draft is replaced with, so that accepted
    /// and replaced tokens together follow <c>p</c>. Overwrites <paramref name="p"/>.
    /// </summary>
    internal static int Residual(Span<float> p, ReadOnlySpan<float> q, Sampler sampler)
    {
        float total = 0;
        for (int i = 0; i < p.Length; i++)
        {
            float r = p[i] - q[i];
            p[i] = r > 0 ? r : 0;
            total += p[i];
        }
        // p equal to q (up to rounding) leaves nothing; the rejection had probability ~0, and a draw from q is
        // then a draw from p.
        return total > 0 ? sampler.Draw(p, total) : sampler.Draw(q);
    }
}
