using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;

namespace FiRST.Runtime.Generation;

/// <summary>
/// One generation run: enumerate it (or <c>await foreach</c> over <see cref="StreamAsync"/>) to stream tokens,
/// then read <see cref="Stats"/>. The prompt is encoded when the run is created, so a prompt that does not fit the
/// context fails there, before any work. Enumerate once.
/// </summary>
public sealed class GenerationRun : IEnumerable<GeneratedToken>
{
    private readonly LlamaModel _model;
    private readonly TextTokenizer _tokenizer;
    private readonly SessionOptions _sessionOptions;
    private readonly GenerationOptions _options;
    private readonly CancellationToken _cancellation;
    private readonly HashSet<int> _stop;
    private int _started;

    internal GenerationRun(LlamaModel model, TextTokenizer tokenizer, SessionOptions sessionOptions, int[] prompt,
                           GenerationOptions options, CancellationToken cancellation)
    {
        _model = model;
        _tokenizer = tokenizer;
        _sessionOptions = sessionOptions;
        _options = options;
        _cancellation = cancellation;
        PromptTokens = prompt;
        _stop = new HashSet<int>(options.StopTokens ?? tokenizer.DefaultStopTokens);
    }

    /// <summary>The encoded prompt (BOS included when requested).</summary>
    public IReadOnlyList<int> PromptTokens { get; }

    /// <summary>Counts and timings; final once enumeration has ended.</summary>
    public GenerationStats Stats { get; private set; } = new();

    /// <summary>Streams the generated text, joining byte tokens so that every string holds whole characters.</summary>
    public IEnumerable<string> Text()
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[64];
        foreach (var token in this)
        {
            var bytes = token.Utf8.Span;
            int needed = decoder.GetCharCount(bytes, flush: false);
            if (needed > chars.Length) chars = new char[needed];
            int n = decoder.GetChars(bytes, chars, flush: false);
            if (n > 0) yield return new string(chars, 0, n);
        }
        int tail = decoder.GetChars(ReadOnlySpan<byte>.Empty, chars, flush: true);
        if (tail > 0) yield return new string(chars, 0, tail);
    }

    /// <inheritdoc />
    public IEnumerator<GeneratedToken> GetEnumerator() => Run(_cancellation).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Streams the tokens asynchronously: the work moves off the caller's context, and
    /// <paramref name="cancellationToken"/> (with the token given to Generate) stops it within one token.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cancellation, cancellationToken);
        // The work is CPU-bound; leave the caller's context before starting it.
        await Task.Yield();
        foreach (var token in Run(linked.Token))
        {
            yield return token;
        }
    }

    private IEnumerable<GeneratedToken> Run(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("a generation run can be enumerated only once; call Generate again");

        var config = _model.Config;
        int[] prompt = (int[])PromptTokens;
        int maxSteps = _options.MaxSteps <= 0 ? config.MaxSeqLen : Math.Min(_options.MaxSteps, config.MaxSeqLen);
        var sampler = new Sampler(config.VocabSize, _options.Sampling);
        using var session = _model.CreateSession(_sessionOptions);

        long prefillTicks, decodeTicks = 0;
        int generated = 0, decodeSteps = 0;
        var reason = StopReason.None;

        // Prefill: the whole prompt in batches (or as much of it as the step limit allows).
        int prefillCount = Math.Min(prompt.Length, maxSteps);
        long start = Stopwatch.GetTimestamp();
        int next;
        try
        {
            next = sampler.Sample(session.Prefill(prompt.AsSpan(0, prefillCount), ct));
        }
        catch (OperationCanceledException)
        {
            Stats = new GenerationStats { PromptTokens = prompt.Length, StopReason = StopReason.Cancelled, Mask = session.Mask.ToString(), Threads = session.Threads };
            throw;
        }
        prefillTicks = Stopwatch.GetTimestamp() - start;
        if (prefillCount < prompt.Length) reason = StopReason.MaxSteps;

        // Self-speculation makes several tokens per round; they wait here and are emitted one by one, each
        // checked for stop tokens and limits as if decoded alone.
        var plan = session.Speculation;
        int[]? pending = plan is null ? null : new int[plan.Lookahead + 1];
        int pendingCount = 0, pendingNext = 0;
        try
        {
            int token = prompt[^1];
            // The position the next emitted token will be fed at (the session runs ahead while speculating).
            int position = session.Position;
            while (reason == StopReason.None)
            {
                if (_stop.Contains(next)) { reason = StopReason.StopToken; break; }
                var piece = _tokenizer.PieceBytes(next, token);
                token = next;
                generated++;
                yield return new GeneratedToken(token, position, piece);

                if (_options.MaxNewTokens > 0 && generated >= _options.MaxNewTokens) { reason = StopReason.MaxNewTokens; break; }
                if (position >= maxSteps)
                {
                    reason = position >= config.MaxSeqLen ? StopReason.ContextFull : StopReason.MaxSteps;
                    break;
                }
                if (ct.IsCancellationRequested) { reason = StopReason.Cancelled; break; }

                // Only forward passes and sampling are timed, not the consumer's work between tokens.
                start = Stopwatch.GetTimestamp();
                if (pending is null) next = sampler.Sample(session.Forward(token));
                else
                {
                    if (pendingNext == pendingCount)
                    {
                        // The round makes no more tokens than the run can still emit, and stops drafting at a stop token.
                        int limit = maxSteps - position;
                        if (_options.MaxNewTokens > 0) limit = Math.Min(limit, _options.MaxNewTokens - generated);
                        pendingCount = session.Speculate(token, sampler, pending, limit, _stop);
                        pendingNext = 0;
                    }
                    next = pending[pendingNext++];
                }
                decodeTicks += Stopwatch.GetTimestamp() - start;
                decodeSteps++;
                position++;
            }
        }
        finally
        {
            // Also reached when the consumer stops enumerating early.
            Stats = new GenerationStats
            {
                PromptTokens = prompt.Length,
                GeneratedTokens = generated,
                PrefillMs = Stopwatch.GetElapsedTime(0, prefillTicks).TotalMilliseconds,
                DecodeMs = Stopwatch.GetElapsedTime(0, decodeTicks).TotalMilliseconds,
                DecodeSteps = decodeSteps,
                StopReason = reason,
                Mask = session.Mask.ToString(),
                Routing = session.Routing,
                DecodePath = Routing.Dispatcher.NameOf(session.DecodePath),
                PathReason = session.PathReason,
                Threads = session.Threads,
                KvBytes = session.KvBytes,
                Speculation = plan,
                DraftedTokens = session.SpeculationState?.Drafted ?? 0,
                AcceptedTokens = session.SpeculationState?.Accepted ?? 0,
                EarlyExits = session.EarlyExits,
                MeanExitDepth = session.DecodedTokens == 0 ? 0 : (double)session.DecodedLayers / session.DecodedTokens,
            };
        }
        if (reason == StopReason.Cancelled) ct.ThrowIfCancellationRequested();
    }
}
