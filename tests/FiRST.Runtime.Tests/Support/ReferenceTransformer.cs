namespace FiRST.Runtime.Tests.Support;

/// <summary>
/// The plain, slow, obviously-correct forward pass the optimised runtime is checked against: scalar loops
/// in double precision, straight from the math (RMSNorm, interleaved RoPE, grouped-query causal attention,
/// SwiGLU), no SIMD, no threads, no shared code with the runtime. RoPE turns pair i by
/// <c>pos * theta^(-2i / head_size)</c>, or by <c>pos * inverseFrequencies[i]</c> when the test gives them
/// (scaled RoPE, computed by the test's own formula).
/// </summary>
internal sealed class ReferenceTransformer(TestModel m, bool[]? keep = null, double[]? inverseFrequencies = null)
{
    private readonly ModelConfig _c = m.Config;
    private readonly List<double[]>[] _keys = Enumerable.Range(0, m.Config.NLayers).Select(_ => new List<double[]>()).ToArray();
    private readonly List<double[]>[] _values = Enumerable.Range(0, m.Config.NLayers).Select(_ => new List<double[]>()).ToArray();

    public int Position { get; private set; }

    /// <summary>The residual stream of the last token before the final norm.</summary>
    public double[] Hidden { get; private set; } = [];

    public double[] Forward(int token)
    {
        int dim = _c.Dim, hs = _c.HeadSize, pos = Position;
        var x = new double[dim];
        for (int i = 0; i < dim; i++) x[i] = m.Embedding[(long)token * dim + i];

        for (int l = 0; l < _c.NLayers; l++)
        {
            if (keep != null && !keep[l]) continue;
            var xn = RmsNorm(x, m.RmsAtt[l]);
            var q = MatVec(m.Wq[l], xn, dim);
            var k = MatVec(m.Wk[l], xn, _c.KvDim);
            var v = MatVec(m.Wv[l], xn, _c.KvDim);
            Rope(q, pos);
            Rope(k, pos);
            _keys[l].Add(k);
            _values[l].Add(v);

            var attnOut = new double[dim];
            for (int h = 0; h < _c.NHeads; h++)
            {
                int kvh = h / (_c.NHeads / _c.NKvHeads);
                var scores = new double[pos + 1];
                for (int t = 0; t <= pos; t++)
                {
                    double s = 0;
                    for (int i = 0; i < hs; i++) s += q[h * hs + i] * _keys[l][t][kvh * hs + i];
                    scores[t] = s / Math.Sqrt(hs);
                }
                double max = scores.Max(), sum = 0;
                for (int t = 0; t <= pos; t++) { scores[t] = Math.Exp(scores[t] - max); sum += scores[t]; }
                for (int t = 0; t <= pos; t++)
                    for (int i = 0; i < hs; i++)
                        attnOut[h * hs + i] += scores[t] / sum * _values[l][t][kvh * hs + i];
            }
            var o = MatVec(m.Wo[l], attnOut, dim);
            for (int i = 0; i < dim; i++) x[i] += o[i];

            xn = RmsNorm(x, m.RmsFfn[l]);
            var gate = MatVec(m.W1[l], xn, _c.HiddenDim);
            var up = MatVec(m.W3[l], xn, _c.HiddenDim);
            for (int i = 0; i < gate.Length; i++) gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
            var down = MatVec(m.W2[l], gate, dim);
            for (int i = 0; i < dim; i++) x[i] += down[i];
        }
        Hidden = (double[])x.Clone();
        x = RmsNorm(x, m.RmsFinal);
        Position++;
        return MatVec(m.Classifier, x, _c.VocabSize);
    }

    /// <summary>Layer <paramref name="l"/>'s key (rotated for <paramref name="pos"/>) and value of the residual stream <paramref name="h"/>: what early exit's KV fill stores.</summary>
    public (double[] K, double[] V) KeyValue(int l, double[] h, int pos)
    {
        var xn = RmsNorm(h, m.RmsAtt[l]);
        var k = MatVec(m.Wk[l], xn, _c.KvDim);
        Rope(k, pos);
        return (k, MatVec(m.Wv[l], xn, _c.KvDim));
    }

    private double[] RmsNorm(double[] x, float[] w)
    {
        double ss = 0;
        foreach (double v in x) ss += v * v;
        double scale = 1 / Math.Sqrt(ss / x.Length + _c.NormEps);
        var o = new double[x.Length];
        for (int i = 0; i < x.Length; i++) o[i] = w[i] * x[i] * scale;
        return o;
    }

    private static double[] MatVec(float[] w, double[] x, int rows)
    {
        var o = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int i = 0; i < x.Length; i++) s += w[(long)r * x.Length + i] * x[i];
            o[r] = s;
        }
        return o;
    }

    /// <summary>Rotates pairs (2i, 2i+1) of each head by pos * theta^(-2i / head_size) (or the given inverse frequency).</summary>
    private void Rope(double[] v, int pos)
    {
        int hs = _c.HeadSize;
        for (int h = 0; h < v.Length; h += hs)
            for (int i = 0; i < hs / 2; i++)
            {
                double angle = pos * (inverseFrequencies?[i] ?? Math.Pow(_c.RopeTheta, -2.0 * i / hs));
                double c = Math.Cos(angle), s = Math.Sin(angle);
                double a = v[h + 2 * i], b = v[h + 2 * i + 1];
                v[h + 2 * i] = a * c - b * s;
                v[h + 2 * i + 1] = a * s + b * c;
            }
    }
}
