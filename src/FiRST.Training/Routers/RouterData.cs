using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Tasks;

namespace FiRST.Training.Routers;

/// <summary>Where router training gets its batches, and which loss it uses on them.</summary>
public abstract class RouterData
{
    /// <summary>
    /// True: cross-entropy on the answer tokens (task data). False: KL divergence from the full model's
    /// next-token distribution (data-free, on the model's own samples).
    /// </summary>
    public abstract bool TaskLoss { get; }

    /// <summary>Draws a batch of <paramref name="batch"/> rows (the loss counts the answer or continuation positions).</summary>
    public abstract TaskBatch Draw(Random rng, int batch);

    /// <summary>A description for reports.</summary>
    public abstract string Describe();
}

/// <summary>Task examples: the prompt is what the routers pool over, the answer is what the loss scores.</summary>
public sealed class TaskRouterData(TextTokenizer tokenizer, TaskMix mix, int maxLen) : RouterData
{
    /// <inheritdoc />
    public override bool TaskLoss => true;

    /// <inheritdoc />
    public override TaskBatch Draw(Random rng, int batch) => TaskBatch.Draw(tokenizer, rng, mix, batch, maxLen);

    /// <inheritdoc />
    public override string Describe() => $"tasks {string.Join(", ", mix.Tasks.Select(t => t.Name))} (cross-entropy on answers)";
}

/// <summary>
/// Data-free: sequences the model samples itself from BOS (temperature 1, seeded). The first
/// <see cref="PromptLength"/> tokens play the prompt; the loss is the KL divergence from the full model on
/// the rest.
/// </summary>
public sealed class SelfGeneratedRouterData : RouterData
{
    private readonly int[][] _sequences;

    private SelfGeneratedRouterData(int[][] sequences, int promptLength)
    {
        _sequences = sequences;
        PromptLength = promptLength;
    }

    /// <summary>Prompt positions of each sequence.</summary>
    public int PromptLength { get; }

    /// <summary>The sampled sequences (BOS first).</summary>
    public IReadOnlyList<int[]> Sequences => _sequences;

    /// <summary>
    /// Samples <paramref name="count"/> sequences of <paramref name="length"/> tokens with the C# runtime;
    /// <paramref name="cancellationToken"/> stops it within a token (<see cref="RunCancelledException"/>).
    /// </summary>
    public static SelfGeneratedRouterData Sample(LlamaModel model, int bos, int count, int length, int promptLength, ulong seed, Action<PassProgress>? progress = null,
                                                 CancellationToken cancellationToken = default)
    {
        if (length > model.Config.MaxSeqLen) throw new ArgumentException($"{length} tokens exceed the model's context of {model.Config.MaxSeqLen}");
        if (promptLength < 1 || promptLength >= length) throw new ArgumentException("the prompt must be at least one token and shorter than the sequence");
        var sampler = new Sampler(model.Config.VocabSize, new SamplerOptions { Temperature = 1f, TopP = 1f, Seed = seed });
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        var sequences = new int[count][];
        for (int i = 0; i < count; i++)
        {
            session.Reset();
            var s = new int[length];
            s[0] = bos;
            for (int t = 1; t < length; t++)
            {
                RunCancelledException.ThrowIfCancelled(cancellationToken, i, count, "sequences sampled");
                s[t] = sampler.Sample(session.Forward(s[t - 1]));
            }
            sequences[i] = s;
            progress?.Invoke(new PassProgress("sampling", i + 1, count) { Line = (i + 1) % 64 == 0 ? $"sampled {i + 1}/{count} sequences of {length} tokens" : null });
        }
        return new SelfGeneratedRouterData(sequences, promptLength);
    }

    /// <inheritdoc />
    public override bool TaskLoss => false;

    /// <inheritdoc />
    public override TaskBatch Draw(Random rng, int batch)
    {
        var rows = new (int[] Ids, int PromptLength)[batch];
        for (int b = 0; b < batch; b++) rows[b] = (_sequences[rng.Next(_sequences.Length)], PromptLength);
        return TaskBatch.FromRows(rows);
    }

    /// <inheritdoc />
    public override string Describe() => $"{_sequences.Length} self-generated sequences of {_sequences[0].Length} tokens, first {PromptLength} as prompt (KL to the full model)";
}
