using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime.Tokenization;
using static TorchSharp.torch;

namespace FiRST.Training.Tasks;

/// <summary>
/// Task examples packed several to a row, each row up to the context length: BOS + prompt + " " + answer + EOS,
/// then the next example. The attention mask keeps every example to itself, so a packed row trains exactly what
/// the examples would train one per row (RoPE scores depend only on the distance between positions), without
/// the padding a batch of mixed lengths carries: the tasks' rows run from 12 to 37 tokens, and one row per
/// example spent about 40% of the compute on padding.
/// </summary>
/// <param name="Tokens">Input ids <c>[rows, time]</c>.</param>
/// <param name="Targets">The next token at each position <c>[rows, time]</c>.</param>
/// <param name="AnswerMask">1 where the target is part of an answer (or its EOS): the positions the loss counts.</param>
/// <param name="AttentionMask">Additive mask <c>[rows, time, time]</c>: 0 where a position may attend (same example, not later), -inf elsewhere.</param>
public readonly record struct PackedBatch(Tensor Tokens, Tensor Targets, Tensor AnswerMask, Tensor AttentionMask)
{
    /// <summary>
    /// Draws <paramref name="examples"/> examples from <paramref name="mix"/> (those longer than
    /// <paramref name="rowLength"/> are redrawn) and packs them best-fit decreasing into rows of
    /// <paramref name="rowLength"/> positions: longest first, each into the row it leaves least room in. That uses
    /// about 96% of the positions where first-fit in drawing order used 93%, so a step runs fewer rows.
    /// </summary>
    public static PackedBatch Draw(TextTokenizer tokenizer, Random rng, TaskMix mix, int examples, int rowLength)
    {
        var drawn = new List<(int[] Ids, int PromptLength)>(examples);
        while (drawn.Count < examples)
        {
            var sequence = TaskBatch.Encode(tokenizer, mix.Draw(rng).TrainingSample(rng));
            if (sequence.Ids.Length - 1 <= rowLength) drawn.Add(sequence);
        }
        return FromRows(Pack(drawn, rowLength), rowLength);
    }

    /// <summary>Best-fit decreasing: the sequences, longest first, each into the row with the least room left that
    /// holds it (a new row when none does).</summary>
    public static List<List<(int[] Ids, int PromptLength)>> Pack(IEnumerable<(int[] Ids, int PromptLength)> sequences, int rowLength)
    {
        var rows = new List<List<(int[] Ids, int PromptLength)>>();
        var used = new List<int>();
        // OrderByDescending is stable: equal lengths keep their drawing order, so a seed gives the same batch.
        foreach (var sequence in sequences.OrderByDescending(s => s.Ids.Length))
        {
            int positions = sequence.Ids.Length - 1, row = -1;
            for (int r = 0; r < used.Count; r++)
                if (used[r] + positions <= rowLength && (row < 0 || used[r] > used[row])) row = r;
            if (row < 0) { rows.Add([]); used.Add(0); row = rows.Count - 1; }
            rows[row].Add(sequence);
            used[row] += positions;
        }
        return rows;
    }

    /// <summary>Packs whole sequences (BOS first, each with its prompt length), one inner list per row.</summary>
    public static PackedBatch FromRows(IReadOnlyList<IReadOnlyList<(int[] Ids, int PromptLength)>> rows, int rowLength)
    {
        int count = rows.Count;
        var tokens = new long[count * rowLength];
        var targets = new long[count * rowLength];
        var answer = new float[count * rowLength];
        var attention = new float[count * rowLength * rowLength];
        for (int r = 0; r < count; r++)
        {
            var segment = new int[rowLength];
            int at = 0;
            for (int e = 0; e < rows[r].Count; e++)
            {
                var (ids, promptLength) = rows[r][e];
                if (at + ids.Length - 1 > rowLength) throw new ArgumentException($"row {r} holds more than {rowLength} positions");
                for (int t = 0; t < ids.Length - 1; t++, at++)
                {
                    tokens[r * rowLength + at] = ids[t];
                    targets[r * rowLength + at] = ids[t + 1];
                    answer[r * rowLength + at] = t + 1 >= promptLength ? 1 : 0;
                    segment[at] = e;
                }
            }
            // Padding forms one more segment, so each of its positions still sees itself (no all -inf softmax row).
            for (int t = at; t < rowLength; t++) segment[t] = rows[r].Count;
            for (int i = 0; i < rowLength; i++)
                for (int j = 0; j < rowLength; j++)
                    attention[(r * rowLength + i) * rowLength + j] = j <= i && segment[j] == segment[i] ? 0f : float.NegativeInfinity;
        }
        return new PackedBatch(tensor(tokens).reshape(count, rowLength), tensor(targets).reshape(count, rowLength),
                               tensor(answer).reshape(count, rowLength), tensor(attention).reshape(count, rowLength, rowLength));
    }
}
