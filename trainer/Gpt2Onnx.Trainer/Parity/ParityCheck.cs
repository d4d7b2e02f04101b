using System.Numerics.Tensors;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using Gpt2Onnx.Trainer.Training;
using TorchSharp;

namespace Gpt2Onnx.Trainer.Parity;

/// <summary>
/// Compares a checkpoint run by the trainer (libtorch) with its export run by the runtime (ONNX Runtime):
/// logits at every position, top-1 agreement, the runtime's cached against its full-sequence logits,
/// greedy and seeded-sampled continuations, and a padded batch against single prompts.
/// </summary>
public static class ParityCheck
{
    /// <summary>A built-in diverse set: short and long, English and Chinese, and one as long as the context.</summary>
    public static readonly IReadOnlyList<(string Name, string Text)> DefaultPrompts =
    [
        ("english-short", "The quick brown fox"),
        ("english-long", "It was the best of times, it was the worst of times, it was the age of wisdom, it was the " +
                         "age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was " +
                         "the season of Light, it was the season of Darkness."),
        ("chinese-short", "床前明月光，"),
        ("chinese-poem", "春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。"),
        ("chinese-long", "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。千山鳥飛絕，萬徑人蹤滅。孤舟蓑笠翁，獨釣寒江雪。"),
        ("mixed", "Li Bai wrote 静夜思 in 726: 床前明月光"),
    ];

    public static ParityReport Run(string checkpointDirectory, string onnxDirectory,
                                   IReadOnlyList<(string Name, string Text)>? prompts = null,
                                   int generateTokens = 12, TextWriter? log = null)
    {
        prompts ??= DefaultPrompts;
        using var checkpoint = Gpt2Checkpoint.Open(checkpointDirectory);
        using var model = Gpt2Model.Load(checkpoint);
        using var runtime = LanguageModel.Load(onnxDirectory,
                                               new SessionSettings { IntraOpThreads = TorchRuntime.Threads });
        if (runtime.VocabSize != checkpoint.Config.VocabSize || runtime.Layers != checkpoint.Config.NLayer
            || runtime.ContextLength != checkpoint.Config.NPositions)
            throw new Gpt2OnnxException($"{onnxDirectory} was not exported from {checkpointDirectory} (different " +
                                        "vocabulary, layers or context): export it again");
        var tokenizer = Tokenizer.Load(checkpointDirectory);
        int context = checkpoint.Config.NPositions;
        int eos = runtime.EndOfTextId;

        var sequences = new List<(string Name, int[] Ids)>();
        foreach (var (name, text) in prompts)
        {
            var ids = new List<int>();
            tokenizer.Encode(text, ids);
            if (ids.Count == 0) ids.Add(eos);
            if (ids.Count > context - generateTokens) ids.RemoveRange(0, ids.Count - (context - generateTokens));
            sequences.Add((name, ids.ToArray()));
        }
        // The context limit: a sequence exactly as long as the model's context, built from the prompts' tokens.
        var all = sequences.SelectMany(s => s.Ids).ToArray();
        sequences.Add(("context-limit", Enumerable.Range(0, context).Select(i => all[i % all.Length]).ToArray()));

        var greedy = new SamplingOptions { Greedy = true, MaxNewTokens = generateTokens };
        var sampled = new SamplingOptions { Temperature = 1.0, TopK = 40, Seed = 1234, MaxNewTokens = generateTokens };
        using var generator = new Generator(runtime);
        var results = new List<PromptParity>();
        var trainerGreedy = new List<List<int>>();
        foreach (var (name, ids) in sequences)
        {
            log?.WriteLine($"parity: {name} ({ids.Length} tokens)");
            float[] expected;
            using (var scope = torch.NewDisposeScope())
            using (torch.no_grad())
                expected = model.Forward(torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]))
                    .data<float>().ToArray();
            var full = runtime.SequenceLogits(ids);
            var cached = runtime.IncrementalLogits(ids, Math.Max(1, ids.Length / 2));
            double maxAbs = MaxAbsDiff(expected, full), scale = expected.Max(Math.Abs);
            var result = new PromptParity
            {
                Name = name,
                Tokens = ids.Length,
                MaxAbsDiff = maxAbs,
                MaxRelDiff = maxAbs / Math.Max(scale, 1e-12),
                Top1Agreement = Top1(expected, full, runtime.VocabSize),
                CacheMaxAbsDiff = MaxAbsDiff(full, cached),
            };
            if (ids.Length + generateTokens <= context)
            {
                var g1 = ModelGenerator.Generate(model, ids, greedy, [eos]);
                var g2 = generator.Generate(new GenerationRequest { PromptIds = ids, Options = greedy }).TokenIds;
                var s1 = ModelGenerator.Generate(model, ids, sampled, [eos]);
                var s2 = generator.Generate(new GenerationRequest { PromptIds = ids, Options = sampled }).TokenIds;
                trainerGreedy.Add(g1);
                result = result with
                {
                    GreedyIdentical = g1.SequenceEqual(g2), GreedyDivergesAt = FirstDifference(g1, g2),
                    SampledIdentical = s1.SequenceEqual(s2), SampledDivergesAt = FirstDifference(s1, s2),
                };
            }
            else
            {
                // no room to generate at the context limit
                result = result with { GreedyIdentical = true, SampledIdentical = true };
            }
            results.Add(result);
        }
        var batchPrompts = sequences.Where(s => s.Ids.Length + generateTokens <= context).ToList();
        var batch = generator.Generate(batchPrompts.Select(s => new GenerationRequest { PromptIds = s.Ids,
                                                                                        Options = greedy }).ToList());
        bool batchIdentical = batch.Select((r, i) => r.TokenIds.SequenceEqual(trainerGreedy[i])).All(x => x);

        var tolerance = ParityTolerance.For(runtime.Variant, runtime.Precision);
        var report = new ParityReport
        {
            Checkpoint = Path.GetFullPath(checkpointDirectory),
            Onnx = Path.GetFullPath(onnxDirectory),
            Variant = runtime.Variant,
            Precision = runtime.Precision,
            MaxAbsDiff = results.Max(r => r.MaxAbsDiff),
            MaxRelDiff = results.Max(r => r.MaxRelDiff),
            Top1Agreement = results.Sum(r => r.Top1Agreement * r.Tokens) / results.Sum(r => r.Tokens),
            CacheMaxAbsDiff = results.Max(r => r.CacheMaxAbsDiff),
            GreedyIdentical = results.All(r => r.GreedyIdentical),
            SampledIdentical = results.All(r => r.SampledIdentical),
            BatchIdentical = batchIdentical,
            Tolerance = tolerance,
            Prompts = results,
        };
        var failures = new List<string>();
        if (tolerance.MaxAbsDiff is double limit && !(report.MaxAbsDiff <= limit))
            failures.Add($"max |Δlogit| {report.MaxAbsDiff:E2} > {limit:E0}");
        if (tolerance.MaxAbsDiff is double cacheLimit && !(report.CacheMaxAbsDiff <= cacheLimit))
            failures.Add($"cache vs full {report.CacheMaxAbsDiff:E2} > {cacheLimit:E0}");
        if (report.Top1Agreement < tolerance.MinTop1Agreement)
            failures.Add($"top-1 agreement {report.Top1Agreement:P2} < {tolerance.MinTop1Agreement:P0}");
        if (tolerance.GreedyIdenticalRequired && !report.GreedyIdentical) failures.Add("greedy continuations differ");
        if (tolerance.GreedyIdenticalRequired && !report.BatchIdentical)
            failures.Add("the padded batch differs from single prompts");
        return report with { Passed = failures.Count == 0, Failures = failures };
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs(a[i] - b[i]);
            if (double.IsNaN(d)) return double.NaN;
            max = Math.Max(max, d);
        }
        return max;
    }

    private static double Top1(float[] expected, float[] actual, int vocab)
    {
        int rows = expected.Length / vocab, same = 0;
        for (int r = 0; r < rows; r++)
        {
            var e = expected.AsSpan(r * vocab, vocab);
            var a = actual.AsSpan(r * vocab, vocab);
            if (TensorPrimitives.IndexOfMax(e) == TensorPrimitives.IndexOfMax(a)) same++;
        }
        return (double)same / rows;
    }

    private static int? FirstDifference(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        for (int i = 0; i < Math.Max(a.Count, b.Count); i++)
            if (i >= a.Count || i >= b.Count || a[i] != b[i]) return i;
        return null;
    }
}
