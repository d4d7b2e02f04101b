using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;

namespace Gpt2Onnx.TestSupport;

/// <summary>
/// GPT-2's forward pass written out in plain loops over float64, independent of libtorch and ONNX Runtime:
/// the expectation the trainer, exporter and runtime are all tested against. Slow; for tiny models only.
/// A GPT2_ML config (<see cref="Gpt2MlLayout"/>) computes GPT2_ML's block instead.
/// </summary>
public sealed class ReferenceGpt2
{
    private readonly Gpt2Config _c;
    private readonly Dictionary<string, double[]> _w;

    public ReferenceGpt2(Gpt2Checkpoint checkpoint)
    {
        _c = checkpoint.Config;
        _w = CheckpointLayout.ExpectedTensors(_c)
            .ToDictionary(e => e.Name, e => checkpoint.ReadFloat32(e.Name).Select(v => (double)v).ToArray());
    }

    public Gpt2Config Config => _c;

    /// <summary>
    /// Logits [T][V] for one sequence. <paramref name="positions"/> defaults to 0..T-1; positions where
    /// <paramref name="padding"/> is true are never attended to. <paramref name="residuals"/>, when given, receives
    /// the residual stream [T][C] before the first block and after each block.
    /// </summary>
    public double[][] Forward(int[] ids, int[]? positions = null, bool[]? padding = null,
                              List<double[][]>? residuals = null)
    {
        int t = ids.Length, c = _c.NEmbd, nh = _c.NHead, hs = _c.HeadSize;
        positions ??= Enumerable.Range(0, t).ToArray();
        // Written out here rather than taken from the exporter's NormPlacement, so the reference stays independent:
        // GPT2_ML (its train/modeling.py) norms the embeddings, the MLP's input and the block's output; GPT-2
        // norms the attention's and the MLP's inputs and the final state.
        bool ml = _c.IsGpt2Ml;
        var x = new double[t][];
        for (int i = 0; i < t; i++)
        {
            x[i] = new double[c];
            for (int j = 0; j < c; j++) x[i][j] = _w["wte.weight"][ids[i] * c + j]
                + _w["wpe.weight"][positions[i] * c + j];
            if (ml) x[i] = Norm(x[i], "ln_emb");
        }
        for (int layer = 0; layer < _c.NLayer; layer++)
        {
            residuals?.Add(x.Select(row => (double[])row.Clone()).ToArray());
            string p = $"h.{layer}.";
            var h = ml ? x : x.Select(row => Norm(row, p + "ln_1")).ToArray();
            var qkv = h.Select(row => Conv1D(row, _w[p + "attn.c_attn.weight"], _w[p + "attn.c_attn.bias"], 3 * c))
                .ToArray();
            var attended = new double[t][];
            for (int i = 0; i < t; i++) attended[i] = new double[c];
            for (int head = 0; head < nh; head++)
            {
                for (int i = 0; i < t; i++)
                {
                    var scores = new double[i + 1];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= i; j++)
                    {
                        if (padding != null && padding[j])
                        {
                            scores[j] = double.NegativeInfinity;
                            continue;
                        }
                        double dot = 0;
                        for (int d = 0; d < hs; d++) dot += qkv[i][head * hs + d] * qkv[j][c + head * hs + d];
                        scores[j] = dot / Math.Sqrt(hs);
                        max = Math.Max(max, scores[j]);
                    }
                    if (double.IsNegativeInfinity(max)) continue; // a padded query that sees nothing
                    double sum = 0;
                    for (int j = 0; j <= i; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                    for (int j = 0; j <= i; j++)
                        for (int d = 0; d < hs; d++)
                            attended[i][head * hs + d] += scores[j] / sum * qkv[j][2 * c + head * hs + d];
                }
            }
            for (int i = 0; i < t; i++)
            {
                var projected = Conv1D(attended[i], _w[p + "attn.c_proj.weight"], _w[p + "attn.c_proj.bias"], c);
                for (int j = 0; j < c; j++) x[i][j] += projected[j];
                var m = Norm(x[i], p + (ml ? "ln_1" : "ln_2"));
                var fc = Conv1D(m, _w[p + "mlp.c_fc.weight"], _w[p + "mlp.c_fc.bias"], _c.InnerSize).Select(Gelu)
                    .ToArray();
                var down = Conv1D(fc, _w[p + "mlp.c_proj.weight"], _w[p + "mlp.c_proj.bias"], c);
                for (int j = 0; j < c; j++) x[i][j] += down[j];
                if (ml) x[i] = Norm(x[i], p + "ln_2");
            }
        }
        residuals?.Add(x.Select(row => (double[])row.Clone()).ToArray());
        return Head(x);
    }

    /// <summary>
    /// The logit lens [layer][T][V] as probabilities: the residual stream before the first block and after each
    /// block, through ln_f and the tied LM head, then softmax.
    /// </summary>
    public double[][][] LensProbabilities(int[] ids)
    {
        var residuals = new List<double[][]>();
        Forward(ids, residuals: residuals);
        return residuals.Select(x => Head(x).Select(Softmax).ToArray()).ToArray();
    }

    private static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private double[] Norm(double[] row, string name) => LayerNorm(row, _w[name + ".weight"], _w[name + ".bias"]);

    /// <summary>ln_f and the tied LM head over hidden states [T][C]: logits [T][V].</summary>
    private double[][] Head(double[][] x)
    {
        int t = x.Length, c = _c.NEmbd;
        var logits = new double[t][];
        for (int i = 0; i < t; i++)
        {
            var f = _c.IsGpt2Ml ? x[i] : Norm(x[i], "ln_f");
            logits[i] = new double[_c.VocabSize];
            for (int v = 0; v < _c.VocabSize; v++)
            {
                double dot = 0;
                for (int j = 0; j < c; j++) dot += f[j] * _w["wte.weight"][v * c + j];
                logits[i][v] = dot;
            }
        }
        return logits;
    }

    /// <summary>Greedy continuation of <paramref name="prompt"/> by <paramref name="count"/> tokens (full recompute
    /// each step).</summary>
    public int[] Greedy(int[] prompt, int count)
    {
        var ids = prompt.ToList();
        for (int step = 0; step < count; step++)
        {
            var last = Forward(ids.ToArray())[^1];
            ids.Add(Array.IndexOf(last, last.Max()));
        }
        return ids.Skip(prompt.Length).ToArray();
    }

    private double[] LayerNorm(double[] x, double[] weight, double[] bias)
    {
        double mean = x.Average();
        double variance = x.Select(v => (v - mean) * (v - mean)).Average();
        double scale = 1 / Math.Sqrt(variance + _c.LayerNormEpsilon);
        return x.Select((v, i) => (v - mean) * scale * weight[i] + bias[i]).ToArray();
    }

    /// <summary>x @ W + b with W in GPT-2's Conv1D layout [in, out].</summary>
    private static double[] Conv1D(double[] x, double[] weight, double[] bias, int outputs)
    {
        var y = (double[])bias.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i];
            int row = i * outputs;
            for (int o = 0; o < outputs; o++) y[o] += xi * weight[row + o];
        }
        return y;
    }

    private double Gelu(double x) => _c.TanhGelu
        ? 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)))
        : 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    // Abramowitz–Stegun 7.1.26 is too coarse for a reference; this series/continued-fraction pair is exact to ~1e-15.
    private static double Erf(double x)
    {
        if (Math.Abs(x) < 2.5)
        {
            double sum = 0, term = x;
            for (int n = 0; n < 80; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        double ax = Math.Abs(x), fraction = 0;
        for (int n = 60; n >= 1; n--) fraction = n / 2.0 / (ax + fraction);
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + fraction);
        return Math.Sign(x) * (1 - erfc);
    }
}
