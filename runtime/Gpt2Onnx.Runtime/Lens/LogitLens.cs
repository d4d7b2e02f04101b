using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Lens;

/// <summary>
/// Computes the logit lens of a sequence on a <c>gpt2-export --with-hidden-states</c> model: one run of the
/// whole sequence without a past, whose lens_logits.0..L outputs are turned into probabilities (softmax in
/// float64), the top candidates, and the ranks of the model's chosen tokens and of the compared tokens.
/// </summary>
public static class LogitLens
{
    /// <summary>
    /// The longest sequence a lens is computed for: its tables hold layers × positions × vocabulary floats.
    /// </summary>
    public const int MaxPositions = 256;

    public static LensReport Compute(LanguageModel model, int[] ids, int promptLength, IReadOnlyList<string> compare,
                                     int topK = 5)
    {
        int layers = CountLayers(model);
        if (ids.Length == 0 || ids.Length > Math.Min(MaxPositions, model.ContextLength))
            throw new Gpt2OnnxException($"the lens takes 1 to {Math.Min(MaxPositions, model.ContextLength)} tokens, " +
                                        $"not {ids.Length}: shorten the prompt or --generate");
        var compared = compare.Select(text => (Text: text, Id: SingleToken(model, text))).ToArray();
        var probabilities = Run(model, ids, layers); // [layer][position][V]
        int last = layers - 1, positions = ids.Length;
        var chosen = Enumerable.Range(0, positions).Select(t => ArgMax(probabilities[last][t])).ToArray();
        int[][] Ranks(Func<int, int> token) => probabilities.Select(layer =>
            Enumerable.Range(0, positions).Select(t => Rank(layer[t], token(t))).ToArray()).ToArray();
        double[][] Probabilities(Func<int, int> token) => probabilities.Select(layer =>
            Enumerable.Range(0, positions).Select(t => layer[t][token(t)]).ToArray()).ToArray();
        string Token(int id) => model.Tokenizer.Decode([id]);
        var top = probabilities.Select(layer => layer.Select(p => Top(p, topK)
            .Select(id => new LensCandidate(id, Token(id), p[id])).ToArray()).ToArray()).ToArray();
        return new LensReport(
            model.Directory, ids, ids.Select(Token).ToArray(), promptLength,
            Enumerable.Range(0, layers).Select(i => i == 0 ? "embeddings" : $"layer {i}").ToArray(),
            chosen, chosen.Select(Token).ToArray(), Ranks(t => chosen[t]), Probabilities(t => chosen[t]), top,
            compared.Select(c => new LensComparison(c.Text, c.Id, Ranks(_ => c.Id), Probabilities(_ => c.Id)))
                    .ToArray());
    }

    /// <summary>
    /// How many lens outputs the model has (its layers + 1); a model without them is one clear error.
    /// </summary>
    private static int CountLayers(LanguageModel model)
    {
        var names = model.Session.Outputs.Select(o => o.Name).ToHashSet();
        int count = 0;
        while (names.Contains(GraphNames.LensLogits(count))) count++;
        if (count != model.Layers + 1)
            throw new Gpt2OnnxException($"{model.Directory} has no logit lens outputs: export the checkpoint with " +
                                        "gpt2-export --with-hidden-states and point --model there");
        return count;
    }

    private static int SingleToken(LanguageModel model, string text)
    {
        var ids = new List<int>();
        model.Tokenizer.Encode(text, ids);
        if (ids.Count != 1)
            throw new Gpt2OnnxException($"--compare '{text}' is {ids.Count} tokens; the lens compares single tokens " +
                                        "(GPT-2's words usually carry their leading space, as in \" is\")");
        return ids[0];
    }

    /// <summary>
    /// One run of the sequence; each lens output's rows as float64 probabilities, [layer][position][V].
    /// </summary>
    private static double[][][] Run(LanguageModel model, int[] ids, int layers)
    {
        int s = ids.Length;
        var inputs = new Dictionary<string, OrtValue>
        {
            [GraphNames.InputIds] = OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), [1, s]),
            [GraphNames.AttentionMask] =
                OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, s).ToArray(), [1, s]),
            [GraphNames.PositionIds] = OrtValue.CreateTensorValueFromMemory(
                Enumerable.Range(0, s).Select(i => (long)i).ToArray(), [1, s]),
        };
        long[] empty = [1, model.Heads, 0, model.HeadSize];
        for (int i = 0; i < model.Layers; i++)
        {
            inputs[GraphNames.PastKey(i)] = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), empty);
            inputs[GraphNames.PastValue(i)] = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), empty);
        }
        var outputNames = Enumerable.Range(0, layers).Select(GraphNames.LensLogits).ToArray();
        try
        {
            using var options = new RunOptions();
            using var outputs = model.Session.Session.Run(options, inputs.Keys.ToArray(), inputs.Values.ToArray(),
                                                          outputNames);
            return outputs.Select(o => Softmax(o.GetTensorDataAsSpan<float>(), s, model.VocabSize)).ToArray();
        }
        finally
        {
            foreach (var value in inputs.Values) value.Dispose();
        }
    }

    /// <summary>Row-wise softmax in float64 of (S, V) logits.</summary>
    private static double[][] Softmax(ReadOnlySpan<float> logits, int rows, int vocab)
    {
        var result = new double[rows][];
        for (int t = 0; t < rows; t++)
        {
            var row = logits.Slice(t * vocab, vocab);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in row) max = Math.Max(max, v);
            result[t] = new double[vocab];
            for (int v = 0; v < vocab; v++) sum += result[t][v] = Math.Exp(row[v] - max);
            for (int v = 0; v < vocab; v++) result[t][v] /= sum;
        }
        return result;
    }

    /// <summary>1 + the tokens more likely than <paramref name="id"/> (equals: the lower id ranks first).</summary>
    public static int Rank(double[] p, int id)
    {
        int rank = 1;
        for (int v = 0; v < p.Length; v++)
            if (p[v] > p[id] || (p[v] == p[id] && v < id)) rank++;
        return rank;
    }

    private static int ArgMax(double[] p) => Top(p, 1)[0];

    /// <summary>The <paramref name="k"/> most likely ids, most likely first (equals: the lower id first).</summary>
    private static int[] Top(double[] p, int k) =>
        Enumerable.Range(0, p.Length).OrderByDescending(v => p[v]).ThenBy(v => v).Take(k).ToArray();
}
