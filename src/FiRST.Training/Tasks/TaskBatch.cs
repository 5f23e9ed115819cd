using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime.Tokenization;
using static TorchSharp.torch;

namespace FiRST.Training.Tasks;

/// <summary>
/// A training batch of task examples, each row BOS + prompt + " " + answer + EOS, padded to the longest row.
/// </summary>
/// <param name="Tokens">Input ids <c>[batch, time]</c>.</param>
/// <param name="Targets">The next token at each position <c>[batch, time]</c>.</param>
/// <param name="AnswerMask">1 where the target is part of the answer (or its EOS), or of a continuation: the positions the loss counts.</param>
/// <param name="PromptMask">1 on the prompt's positions (BOS included): what prefill sees and routers pool over.</param>
public readonly record struct TaskBatch(Tensor Tokens, Tensor Targets, Tensor AnswerMask, Tensor PromptMask)
{
    /// <summary>Draws <paramref name="batch"/> examples from <paramref name="mix"/>; rows longer than <paramref name="maxLen"/> are redrawn.</summary>
    public static TaskBatch Draw(TextTokenizer tokenizer, Random rng, TaskMix mix, int batch, int maxLen)
    {
        var rows = new List<(int[] Ids, int PromptLength)>(batch);
        while (rows.Count < batch)
        {
            var row = Encode(tokenizer, mix.Draw(rng).TrainingSample(rng));
            if (row.Ids.Length <= maxLen + 1) rows.Add(row);
        }
        return FromRows(rows);
    }

    /// <summary>
    /// One training sequence: BOS + prompt + " " + answer + EOS, with the number of its leading tokens that are
    /// the prompt (BOS included). Every batch layout encodes examples this way.
    /// </summary>
    public static (int[] Ids, int PromptLength) Encode(TextTokenizer tokenizer, TaskExample e) =>
        ([.. tokenizer.Encode(e.Prompt + " " + e.Answer), tokenizer.EosId], tokenizer.Encode(e.Prompt).Length);

    /// <summary>
    /// A batch of whole sequences (BOS first), each with the number of its leading tokens that are the prompt:
    /// the loss counts the positions that predict a token after the prompt. Rows are padded to the longest.
    /// </summary>
    public static TaskBatch FromRows(IReadOnlyList<(int[] Ids, int PromptLength)> rows)
    {
        int batch = rows.Count, length = rows.Max(r => r.Ids.Length) - 1;
        var tokens = new long[batch * length];
        var targets = new long[batch * length];
        var answer = new float[batch * length];
        var promptMask = new float[batch * length];
        for (int b = 0; b < batch; b++)
        {
            var (ids, promptLength) = rows[b];
            for (int t = 0; t < ids.Length - 1; t++)
            {
                tokens[b * length + t] = ids[t];
                targets[b * length + t] = ids[t + 1];
                // Position t predicts token t+1: the answer starts at the token after the prompt.
                answer[b * length + t] = t + 1 >= promptLength ? 1 : 0;
                promptMask[b * length + t] = t < promptLength ? 1 : 0;
            }
        }
        return new TaskBatch(tensor(tokens).reshape(batch, length), tensor(targets).reshape(batch, length),
                             tensor(answer).reshape(batch, length), tensor(promptMask).reshape(batch, length));
    }
}
