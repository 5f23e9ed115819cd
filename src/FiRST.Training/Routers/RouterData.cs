using FiRST.Runtime;
using FiRST.Runtime.Sampling;
using FiRST.Runtime.Tokenization;
using FiRST.Training.Tasks;
using static TorchSharp.torch;

namespace FiRST.Training.Routers;

/// <summary>One batch for router training: inputs, targets, the positions the loss counts and the prompt positions.</summary>
public readonly record struct RouterBatch(Tensor Tokens, Tensor Targets, Tensor LossMask, Tensor PromptMask);

/// <summary>Where router training gets its batches, and which loss it uses on them.</summary>
public abstract class RouterData
{
    /// <summary>
    /// True: cross-entropy on the answer tokens (task data). False: KL divergence from the full model's
    /// next-token distribution (data-free, on the model's own samples).
    /// </summary>
    public abstract bool TaskLoss { get; }

    /// <summary>Draws a batch of <paramref name="batch"/> rows.</summary>
    public abstract RouterBatch Draw(Random rng, int batch);

    /// <summary>A description for reports.</summary>
    public abstract string Describe();
}

/// <summary>Task examples: the prompt is what the routers pool over, the answer is what the loss scores.</summary>
public sealed class TaskRouterData(TextTokenizer tokenizer, TaskMix mix, int maxLen) : RouterData
{
    /// <inheritdoc />
    public override bool TaskLoss => true;

    /// <inheritdoc />
    public override RouterBatch Draw(Random rng, int batch)
    {
        var b = TaskBatch.Draw(tokenizer, rng, mix, batch, maxLen);
        return new RouterBatch(b.Tokens, b.Targets, b.AnswerMask, b.PromptMask);
    }

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

    /// <summary>Samples <paramref name="count"/> sequences of <paramref name="length"/> tokens with the C# runtime.</summary>
    public static SelfGeneratedRouterData Sample(LlamaModel model, int bos, int count, int length, int promptLength, ulong seed, Action<string>? progress = null)
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
            for (int t = 1; t < length; t++) s[t] = sampler.Sample(session.Forward(s[t - 1]));
            sequences[i] = s;
            if (progress is not null && (i + 1) % 64 == 0) progress($"sampled {i + 1}/{count} sequences of {length} tokens");
        }
        return new SelfGeneratedRouterData(sequences, promptLength);
    }

    /// <inheritdoc />
    public override bool TaskLoss => false;

    /// <inheritdoc />
    public override RouterBatch Draw(Random rng, int batch)
    {
        int length = _sequences[0].Length - 1;
        var tokens = new long[batch * length];
        var targets = new long[batch * length];
        var loss = new float[batch * length];
        var prompt = new float[batch * length];
        for (int b = 0; b < batch; b++)
        {
            var s = _sequences[rng.Next(_sequences.Length)];
            for (int t = 0; t < length; t++)
            {
                tokens[b * length + t] = s[t];
                targets[b * length + t] = s[t + 1];
                loss[b * length + t] = t + 1 >= PromptLength ? 1 : 0;
                prompt[b * length + t] = t < PromptLength ? 1 : 0;
            }
        }
        return new RouterBatch(tensor(tokens).reshape(batch, length), tensor(targets).reshape(batch, length),
                               tensor(loss).reshape(batch, length), tensor(prompt).reshape(batch, length));
    }

    /// <inheritdoc />
    public override string Describe() => $"{_sequences.Length} self-generated sequences of {_sequences[0].Length} tokens, first {PromptLength} as prompt (KL to the full model)";
}
