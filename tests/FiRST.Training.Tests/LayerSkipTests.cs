using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using FiRST.Runtime;
using FiRST.Training.LayerSkip;
using FiRST.Training.Model;
using FiRST.Training.Tasks;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FiRST.Training.Tests;

/// <summary>LayerSkip's schedules and loss against hand-computed numbers, and a short training smoke test.</summary>
public sealed class LayerSkipTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

    [Fact]
    public void DropoutRisesExponentiallyWithDepth()
    {
        var schedule = new LayerDropoutSchedule(0.2f);
        // p(l) = 0.2 * (2^(l / 4) - 1) for 5 layers.
        float[] expected = [0f, 0.2f * (MathF.Pow(2, 0.25f) - 1), 0.2f * (MathF.Sqrt(2) - 1), 0.2f * (MathF.Pow(2, 0.75f) - 1), 0.2f];
        for (int l = 0; l < 5; l++) Assert.Equal(expected[l], schedule.Rate(l, 5), 6);
        Assert.Equal(0.0378414f, schedule.Rate(1, 5), 5);
    }

    [Fact]
    public void ExponentialTimeCurriculumStartsAtZeroAndEndsAtTheFullRate()
    {
        var schedule = new LayerDropoutSchedule(0.2f, DropoutCurriculum.Exponential);
        Assert.Equal(0f, schedule.Rate(4, 5, step: 0, steps: 101));
        Assert.Equal(0.2f * (MathF.Sqrt(2) - 1), schedule.Rate(4, 5, step: 50, steps: 101), 6);
        Assert.Equal(0.2f, schedule.Rate(4, 5, step: 100, steps: 101), 6);
    }

    [Fact]
    public void CurriculaChooseExitsAndAlwaysKeepTheLastLayer()
    {
        var rotational = new ExitCurriculum.Rotational(3);
        Assert.Equal([0, 3, 6, 7], rotational.Exits(8, step: 0, steps: 10));
        Assert.Equal([1, 4, 7], rotational.Exits(8, step: 4, steps: 10));
        var gradual = new ExitCurriculum.Gradual();
        Assert.Equal([7], gradual.Exits(8, step: 0, steps: 11));
        Assert.Equal([5, 6, 7], gradual.Exits(8, step: 3, steps: 11));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], gradual.Exits(8, step: 10, steps: 11));
    }

    [Fact]
    public void ExitWeightsScaleWithDepth()
    {
        // Exits after layers 1 and 3: weights 2/6 and 4/6.
        Assert.Equal([2f / 6, 4f / 6], EarlyExitLoss.Weights([1, 3]));
        // LayerSkip's early-exit scale shrinks every exit but the last: 0.5 * (1, 3) and 8 -> (0.5, 1.5, 8) / 10.
        Assert.Equal([0.05f, 0.15f, 0.8f], EarlyExitLoss.Weights([0, 2, 7], earlyScale: 0.5f));
    }

    [Fact]
    public void MaskedCrossEntropyMatchesHandComputedValues()
    {
        using var scope = NewDisposeScope();
        // Two positions, vocabulary 3. Position 0: logits [0, ln 2, 0], target 1 -> -ln(2/4) = ln 2.
        // Position 1: logits [0, 0, 0], target 2 -> ln 3, but it is masked out.
        var logits = tensor(new[] { 0f, MathF.Log(2), 0f, 0f, 0f, 0f }).reshape(1, 2, 3);
        var targets = tensor(new long[] { 1, 2 }).reshape(1, 2);
        var mask = tensor(new[] { 1f, 0f }).reshape(1, 2);
        Assert.Equal(MathF.Log(2), EarlyExitLoss.MaskedCrossEntropy(logits, targets, mask).item<float>(), 5);
        var both = tensor(new[] { 1f, 1f }).reshape(1, 2);
        Assert.Equal((MathF.Log(2) + MathF.Log(3)) / 2, EarlyExitLoss.MaskedCrossEntropy(logits, targets, both).item<float>(), 5);
    }

    [Fact]
    public void EarlyExitLossIsTheWeightedSumOfPerExitLosses()
    {
        using var scope = NewDisposeScope();
        using var model = RandomModel(new ModelConfig { Dim = 16, HiddenDim = 24, NLayers = 3, NHeads = 2, NKvHeads = 1, VocabSize = 11, MaxSeqLen = 8 }, seed: 1);
        var tokens = tensor(new long[] { 1, 4, 2, 7, 3, 9 }).reshape(1, 6);
        var targets = tensor(new long[] { 4, 2, 7, 3, 9, 1 }).reshape(1, 6);
        // Some positions not counted: the exits read only the counted ones, which must give the masked mean.
        var mask = tensor(new float[] { 0, 1, 1, 0, 1, 1 }).reshape(1, 6);

        float combined = EarlyExitLoss.Compute(model, tokens, targets, mask, [0, 2]).item<float>();
        float exit0 = EarlyExitLoss.MaskedCrossEntropy(model.Logits(model.Hidden(tokens, 1)), targets, mask).item<float>();
        float exit2 = EarlyExitLoss.MaskedCrossEntropy(model.forward(tokens), targets, mask).item<float>();
        // Weights (0+1)/4 and (2+1)/4.
        Assert.Equal(0.25f * exit0 + 0.75f * exit2, combined, 4);
    }

    [Fact]
    public void PackedRowsGiveTheLossOfOneExamplePerRow()
    {
        // Packing is only a speed-up: with the examples kept apart by the attention mask, RoPE's relative
        // positions make a packed row compute what separate rows compute.
        using var scope = NewDisposeScope();
        using var model = RandomModel(new ModelConfig { Dim = 16, HiddenDim = 24, NLayers = 3, NHeads = 4, NKvHeads = 2, VocabSize = 13, MaxSeqLen = 16 }, seed: 2);
        (int[] Ids, int PromptLength)[] examples =
        [
            ([1, 5, 6, 7, 3, 8, 2], 4), ([1, 9, 4, 2], 2), ([1, 10, 11, 12, 5, 6, 7, 8, 2], 5), ([1, 3, 3, 2], 3),
        ];
        var separate = TaskBatch.FromRows(examples);
        var packed = PackedBatch.FromRows([[examples[0], examples[1], examples[3]], [examples[2]]], rowLength: 12);
        Assert.Equal([2L, 12L], packed.Tokens.shape);

        float expected = EarlyExitLoss.Compute(model, separate.Tokens, separate.Targets, separate.AnswerMask, [1, 2]).item<float>();
        float actual = EarlyExitLoss.Compute(model, packed.Tokens, packed.Targets, packed.AnswerMask, [1, 2], attentionMask: packed.AttentionMask).item<float>();
        Assert.Equal(expected, actual, 5);
        // Without the mask the examples of a row would see each other: the loss changes.
        float leaky = EarlyExitLoss.Compute(model, packed.Tokens, packed.Targets, packed.AnswerMask, [1, 2]).item<float>();
        Assert.NotEqual(expected, leaky, 3);
    }

    [Fact]
    public void PackingIsBestFitDecreasing()
    {
        // Three sequences of 3 positions drawn before three of 7, rows of 10: first-fit in drawing order puts the
        // 3s together and needs four rows; longest first, each 7 takes a 3 and three rows suffice.
        static (int[] Ids, int PromptLength) Sequence(int positions, int id) => (Enumerable.Repeat(id, positions + 1).ToArray(), 1);
        var drawn = new[] { Sequence(3, 1), Sequence(3, 2), Sequence(3, 3), Sequence(7, 4), Sequence(7, 5), Sequence(7, 6) };
        var rows = PackedBatch.Pack(drawn, rowLength: 10);
        Assert.Equal(3, rows.Count);
        Assert.All(rows, row => Assert.Equal([7, 3], row.Select(s => s.Ids.Length - 1)));
        // Equal lengths keep their drawing order (the 7s in rows 0, 1, 2; the 3s after them in order).
        Assert.Equal([4, 5, 6], rows.Select(row => row[0].Ids[0]));
        Assert.Equal([1, 2, 3], rows.Select(row => row[1].Ids[0]));
        // Best fit, not first fit: rows of 9 holding 6 and 4 + 4; the 1 goes to the fuller second row.
        var mixed = PackedBatch.Pack([Sequence(1, 1), Sequence(4, 2), Sequence(6, 3), Sequence(4, 4)], rowLength: 9);
        Assert.Equal([[6], [4, 4, 1]], mixed.Select(row => row.Select(s => s.Ids.Length - 1).ToArray()));
    }

    [Fact]
    public void PackingFillsRowsAndKeepsEveryExample()
    {
        using var scope = NewDisposeScope();
        var tokenizer = TaskTests.CharTokenizer();
        var batch = PackedBatch.Draw(tokenizer, new Random(5), TaskMix.Parse("copy=1,reverse=1,sort=1,add=1"), 64, 48);
        var tokens = batch.Tokens.data<long>().ToArray();
        // Every example starts with BOS: 64 of them, in fewer rows than examples.
        Assert.Equal(64, tokens.Count(t => t == tokenizer.BosId));
        Assert.True(batch.Tokens.shape[0] < 40, $"{batch.Tokens.shape[0]} rows for 64 examples");
        // Each BOS position sees only itself.
        var mask = batch.AttentionMask.data<float>().ToArray();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] != tokenizer.BosId) continue;
            int row = i / 48, t = i % 48;
            for (int j = 0; j < 48; j++)
                Assert.Equal(j == t ? 0f : float.NegativeInfinity, mask[(row * 48 + t) * 48 + j]);
        }
    }

    [Fact]
    public void ShortTrainingLowersTheLoss()
    {
        // A tiny model learns to copy: "a b c d | a b c d", loss on the copy. CI's smoke test of the stack.
        torch.random.manual_seed(7);
        var config = new ModelConfig { Dim = 32, HiddenDim = 64, NLayers = 2, NHeads = 4, NKvHeads = 2, VocabSize = 12, MaxSeqLen = 16 };
        using var model = new TorchLlama(config);
        foreach (var p in model.parameters())
            using (no_grad()) { if (p.dim() == 2) p.normal_(0, 0.1); }
        var optimizer = optim.AdamW(model.parameters(), lr: 3e-3);
        var rng = new Random(3);
        float first = 0, last = 0, middle = 0;
        var schedule = new LayerDropoutSchedule(0.1f);
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var (tokens, targets, mask) = CopyBatch(rng, batch: 32);
            var loss = EarlyExitLoss.Compute(model, tokens, targets, mask, [0, 1], schedule, step, 60);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            float value = loss.item<float>();
            if (step < 5) first += value / 5;
            if (step >= 28 && step < 33) middle += value / 5;
            if (step >= 55) last += value / 5;
        }
        _output.WriteLine($"loss: first 5 steps {first:F3}, steps 28-32 {middle:F3}, last 5 {last:F3}; ln 10 = {Math.Log(10):F3}");
        // The copied symbols are uniform over 10 values and independent of everything before the separator but
        // their own first occurrence, so a model that does not copy cannot beat ln 10 = 2.303 nats per answer
        // token, in expectation, at any exit. The random initial model is such a model (and also spreads mass over
        // the 2 other tokens): it starts above ln 10. Ending below ln 10 - 0.25 means it copies; 0.25 is about ten
        // standard errors of a 5-step mean (640 answer tokens, per-token loss spread below 1 nat).
        Assert.True(first > Math.Log(10) - 0.05, $"the untrained model's loss {first:F3} is below ln 10: the task leaks its answers");
        Assert.True(last < Math.Log(10) - 0.25, $"loss went from {first:F3} to {last:F3}: not below ln 10 = {Math.Log(10):F3} by a margin, so the model does not copy");
    }

    /// <summary>Sequences "x1 x2 x3 x4 SEP x1 x2 x3 x4" over symbols 2..11 (SEP = 1); loss on the copy.</summary>
    /// <summary>A small model with every weight drawn from N(0, 0.3²).</summary>
    private static TorchLlama RandomModel(ModelConfig config, int seed)
    {
        torch.random.manual_seed(seed);
        var model = new TorchLlama(config);
        foreach (var p in model.parameters()) using (no_grad()) p.normal_(0, 0.3);
        return model;
    }

    private static (Tensor Tokens, Tensor Targets, Tensor Mask) CopyBatch(Random rng, int batch)
    {
        const int n = 4, length = 2 * n + 1;
        var seq = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < n; i++) seq[b * length + i] = seq[b * length + n + 1 + i] = rng.Next(2, 12);
            seq[b * length + n] = 1;
        }
        var all = tensor(seq).reshape(batch, length);
        var maskValues = new float[batch * (length - 1)];
        for (int b = 0; b < batch; b++)
            for (int i = n; i < length - 1; i++) maskValues[b * (length - 1) + i] = 1;
        return (all[.., ..^1], all[.., 1..], tensor(maskValues).reshape(batch, length - 1));
    }
}
