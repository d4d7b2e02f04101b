using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Onnx;
using static Gpt2Onnx.Runtime.Onnx.GraphNames;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>Runs exported graphs of one sequence step by step through ONNX Runtime's plain Run (no IO binding).</summary>
internal sealed class ExportedGraphRunner(string onnxDirectory, Gpt2Config config) : IDisposable
{
    private readonly OrtSession _session = new(Path.Combine(onnxDirectory, OnnxExporter.ModelFile), new SessionSettings { IntraOpThreads = 1 });

    public OrtSession Session => _session;

    /// <summary>Fed as logits_to_keep when set; left to the graph's default (all positions) when null.</summary>
    public long? LogitsToKeep { get; set; }

    /// <summary>The cache's element type as the graph declares it (float16 for fp16 exports).</summary>
    private TensorElementType CacheType => _session.Input(PastKey(0))!.ElementType;

    /// <summary>
    /// Portable graph: logits [S][V] of <paramref name="chunks"/> fed one after another with the cache
    /// (the presents of each chunk are the next chunk's pasts). With <see cref="LogitsToKeep"/> set, each
    /// chunk contributes the rows the graph returns for it.
    /// </summary>
    public List<float[]> RunPortable(params int[][] chunks)
    {
        int nh = config.NHead, hs = config.HeadSize;
        var pasts = new List<OrtTensor>();
        for (int i = 0; i < 2 * config.NLayer; i++) pasts.Add(OrtTensor.Allocate(CacheType, [1, nh, 0, hs]));
        var rows = new List<float[]>();
        int done = 0;
        foreach (var chunk in chunks)
        {
            var inputs = new List<(string, OrtTensor)>
            {
                (InputIds, OrtTensor.From<long>(chunk.Select(t => (long)t).ToArray(), 1, chunk.Length)),
                (AttentionMask, OrtTensor.From<long>(Enumerable.Repeat(1L, done + chunk.Length).ToArray(), 1, done + chunk.Length)),
                (PositionIds, OrtTensor.From<long>(Enumerable.Range(done, chunk.Length).Select(p => (long)p).ToArray(), 1, chunk.Length)),
            };
            if (LogitsToKeep is long keep) inputs.Add((GraphNames.LogitsToKeep, OrtTensor.From<long>([keep])));
            for (int i = 0; i < config.NLayer; i++)
            {
                inputs.Add((PastKey(i), pasts[2 * i]));
                inputs.Add((PastValue(i), pasts[2 * i + 1]));
            }
            var names = new List<string> { Logits };
            for (int i = 0; i < config.NLayer; i++) names.AddRange([PresentKey(i), PresentValue(i)]);
            var outputs = _session.Run(inputs, names);
            foreach (var (_, t) in inputs) t.Dispose();
            var logits = outputs[0].GetData<float>().ToArray();
            for (int s = 0; s < logits.Length / config.VocabSize; s++) rows.Add(logits.AsSpan(s * config.VocabSize, config.VocabSize).ToArray());
            outputs[0].Dispose();
            pasts = outputs.Skip(1).ToList();
            done += chunk.Length;
        }
        foreach (var p in pasts) p.Dispose();
        return rows;
    }

    /// <summary>Fused graph: the same, with one past/present buffer of <paramref name="maxLength"/> per layer, updated in place.</summary>
    public List<float[]> RunFused(int maxLength, params int[][] chunks)
    {
        int nh = config.NHead, hs = config.HeadSize;
        var buffers = new List<OrtTensor>();
        for (int i = 0; i < 2 * config.NLayer; i++)
        {
            var buffer = OrtTensor.Allocate(CacheType, [1, nh, maxLength, hs]);
            if (CacheType == TensorElementType.Float16) buffer.GetData<Half>().Clear();
            else buffer.GetData<float>().Clear();
            buffers.Add(buffer);
        }
        using var binding = _session.CreateBinding();
        var rows = new List<float[]>();
        int done = 0;
        foreach (var chunk in chunks)
        {
            int total = done + chunk.Length;
            using var ids = OrtTensor.From<long>(chunk.Select(t => (long)t).ToArray(), 1, chunk.Length);
            using var positions = OrtTensor.From<long>(Enumerable.Range(done, chunk.Length).Select(p => (long)p).ToArray(), 1, chunk.Length);
            using var mask = OrtTensor.From<long>(Enumerable.Repeat(1L, total).ToArray(), 1, total);
            binding.ClearInputs();
            binding.ClearOutputs();
            binding.BindInput(new OrtName(InputIds), ids);
            binding.BindInput(new OrtName(PositionIds), positions);
            binding.BindInput(new OrtName(AttentionMask), mask);
            using var keepTensor = OrtTensor.From<long>([LogitsToKeep ?? 0]);
            if (LogitsToKeep != null) binding.BindInput(new OrtName(GraphNames.LogitsToKeep), keepTensor);
            for (int i = 0; i < config.NLayer; i++)
            {
                binding.BindInput(new OrtName(PastKey(i)), buffers[2 * i]);
                binding.BindInput(new OrtName(PastValue(i)), buffers[2 * i + 1]);
                binding.BindOutput(new OrtName(PresentKey(i)), buffers[2 * i]);
                binding.BindOutput(new OrtName(PresentValue(i)), buffers[2 * i + 1]);
            }
            binding.BindOutputToCpu(new OrtName(Logits));
            binding.Run();
            var outputs = binding.TakeOutputs();
            var logits = outputs.First(o => o.Shape.Length == 3 && o.Shape[2] == config.VocabSize).GetData<float>().ToArray();
            foreach (var o in outputs) o.Dispose();
            for (int s = 0; s < logits.Length / config.VocabSize; s++) rows.Add(logits.AsSpan(s * config.VocabSize, config.VocabSize).ToArray());
            done = total;
        }
        foreach (var b in buffers) b.Dispose();
        return rows;
    }

    public void Dispose() => _session.Dispose();
}
