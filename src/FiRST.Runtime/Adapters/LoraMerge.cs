using FiRST.Runtime.Loading;

namespace FiRST.Runtime.Adapters;

/// <summary>Merges an adapter into float32 copies of the weights it adapts, once at load.</summary>
internal static class LoraMerge
{
    public static unsafe ModelWeights MergeAll(ModelWeights weights, LoraAdapter adapter, string path, IDisposable[] keepAlive)
    {
        if (weights.IsQuantized)
            throw new ModelLoadException(path, "adapter", "an adapter merges into float32 weights; load the float32 model (and quantize at load with Format = Q8 if wanted)");
        var owned = new List<IDisposable>(keepAlive);
        try
        {
            var layers = new LayerWeights?[weights.Layers.Count];
            for (int l = 0; l < layers.Length; l++)
            {
                if (weights.Layers[l] is not { } w) continue;
                Matrix M(Matrix m, int t) => Merge(m, adapter, l, t, owned);
                layers[l] = new LayerWeights
                {
                    RmsAtt = w.RmsAtt, RmsFfn = w.RmsFfn,
                    Wq = M(w.Wq, 0), Wk = M(w.Wk, 1), Wv = M(w.Wv, 2), Wo = M(w.Wo, 3),
                    W1 = M(w.W1, 4), W2 = M(w.W2, 5), W3 = M(w.W3, 6),
                };
            }
            return new ModelWeights(weights.TokenEmbedding, layers, weights.RmsFinal, weights.Classifier, owned.ToArray());
        }
        catch
        {
            foreach (var d in owned.Skip(keepAlive.Length)) d.Dispose();
            throw;
        }
    }

    /// <summary><c>W + scale · B · A</c> in a new buffer (the original may be a read-only memory map).</summary>
    private static unsafe Matrix Merge(Matrix w, LoraAdapter adapter, int layer, int target, List<IDisposable> owned)
    {
        var buffer = NativeBuffer.Floats(w.Length);
        owned.Add(buffer);
        float* dst = buffer.Data;
        // Row by row, so bfloat16 weights are widened on the way.
        for (int r = 0; r < w.Rows; r++) w.CopyRow(r, new Span<float>(dst + (long)r * w.Cols, w.Cols));
        var a = adapter.A(layer, target);
        var b = adapter.B(layer, target);
        int rank = adapter.Rank, rows = w.Rows, cols = w.Cols;
        float scale = adapter.Scale;
        for (int r = 0; r < rows; r++)
        {
            var row = new Span<float>(dst + (long)r * cols, cols);
            for (int k = 0; k < rank; k++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(a.Slice(k * cols, cols), scale * b[r * rank + k], row, row);
        }
        return new Matrix(dst, rows, cols);
    }
}
