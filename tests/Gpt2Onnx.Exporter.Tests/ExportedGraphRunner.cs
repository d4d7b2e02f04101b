using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;
using static Gpt2Onnx.Core.Onnx.GraphNames;
using OrtType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// Runs exported graphs of one sequence step by step through ONNX Runtime's managed API as its samples use it:
/// the portable graph with plain Run, the fused one with an IO binding over one cache buffer per layer.
/// </summary>
internal sealed class ExportedGraphRunner(string onnxDirectory, Gpt2Config config) : IDisposable
{
    private readonly ModelSession _session = new(Path.Combine(onnxDirectory, OnnxExporter.ModelFile),
                                                 new SessionSettings { IntraOpThreads = 1 });

    public ModelSession Session => _session;

    /// <summary>Fed as logits_to_keep when set; left to the graph's default (all positions) when null.</summary>
    public long? LogitsToKeep { get; set; }

    /// <summary>The cache's element type as the graph declares it (float16 for fp16 exports).</summary>
    private OrtType CacheType => (OrtType)(int)_session.Input(PastKey(0))!.ElementType;

    private static OrtValue Longs(IEnumerable<long> values, params long[] shape) =>
        OrtValue.CreateTensorValueFromMemory(values.ToArray(), shape);

    /// <summary>
    /// Portable graph: logits [S][V] of <paramref name="chunks"/> fed one after another with the cache
    /// (the presents of each chunk are the next chunk's pasts). With <see cref="LogitsToKeep"/> set, each
    /// chunk contributes the rows the graph returns for it.
    /// </summary>
    public List<float[]> RunPortable(params int[][] chunks)
    {
        int nh = config.NHead, hs = config.HeadSize;
        var pasts = new List<OrtValue>();
        for (int i = 0; i < 2 * config.NLayer; i++)
            pasts.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, CacheType, [1, nh, 0, hs]));
        var rows = new List<float[]>();
        int done = 0;
        using var runOptions = new RunOptions();
        foreach (var chunk in chunks)
        {
            var names = new List<string> { InputIds, AttentionMask, PositionIds };
            var inputs = new List<OrtValue>
            {
                Longs(chunk.Select(t => (long)t), 1, chunk.Length),
                Longs(Enumerable.Repeat(1L, done + chunk.Length), 1, done + chunk.Length),
                Longs(Enumerable.Range(done, chunk.Length).Select(p => (long)p), 1, chunk.Length),
            };
            if (LogitsToKeep is long keep)
            {
                names.Add(GraphNames.LogitsToKeep);
                inputs.Add(Longs([keep]));
            }
            for (int i = 0; i < config.NLayer; i++)
            {
                names.AddRange([PastKey(i), PastValue(i)]);
                inputs.AddRange([pasts[2 * i], pasts[2 * i + 1]]);
            }
            var outputNames = new List<string> { Logits };
            for (int i = 0; i < config.NLayer; i++) outputNames.AddRange([PresentKey(i), PresentValue(i)]);
            var outputs = _session.Session.Run(runOptions, names, inputs, outputNames);
            foreach (var value in inputs) value.Dispose();
            AddRows(rows, outputs[0]);
            outputs[0].Dispose();
            pasts = outputs.Skip(1).ToList();
            done += chunk.Length;
        }
        foreach (var p in pasts) p.Dispose();
        return rows;
    }

    /// <summary>Fused graph: the same, one past/present buffer of <paramref name="maxLength"/> per layer.</summary>
    public List<float[]> RunFused(int maxLength, params int[][] chunks)
    {
        int nh = config.NHead, hs = config.HeadSize;
        var buffers = new List<OrtValue>();
        for (int i = 0; i < 2 * config.NLayer; i++)
        {
            var buffer = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, CacheType,
                                                             [1, nh, maxLength, hs]);
            buffer.GetTensorMutableRawData().Clear();
            buffers.Add(buffer);
        }
        using var binding = _session.CreateBinding();
        var rows = new List<float[]>();
        int done = 0;
        foreach (var chunk in chunks)
        {
            int total = done + chunk.Length;
            using var ids = Longs(chunk.Select(t => (long)t), 1, chunk.Length);
            using var positions = Longs(Enumerable.Range(done, chunk.Length).Select(p => (long)p), 1, chunk.Length);
            using var mask = Longs(Enumerable.Repeat(1L, total), 1, total);
            using var keep = Longs([LogitsToKeep ?? 0]);
            binding.ClearBoundInputs();
            binding.ClearBoundOutputs();
            binding.BindInput(InputIds, ids);
            binding.BindInput(PositionIds, positions);
            binding.BindInput(AttentionMask, mask);
            if (LogitsToKeep != null) binding.BindInput(GraphNames.LogitsToKeep, keep);
            for (int i = 0; i < config.NLayer; i++)
            {
                binding.BindInput(PastKey(i), buffers[2 * i]);
                binding.BindInput(PastValue(i), buffers[2 * i + 1]);
                binding.BindOutput(PresentKey(i), buffers[2 * i]);
                binding.BindOutput(PresentValue(i), buffers[2 * i + 1]);
            }
            binding.BindOutputToDevice(Logits, OrtMemoryInfo.DefaultInstance);
            _session.Run(binding);
            using var outputs = binding.GetOutputValues();
            AddRows(rows, outputs.Last());
            done = total;
        }
        foreach (var b in buffers) b.Dispose();
        return rows;
    }

    private void AddRows(List<float[]> rows, OrtValue logits)
    {
        var values = logits.GetTensorDataAsSpan<float>();
        for (int s = 0; s < values.Length / config.VocabSize; s++)
            rows.Add(values.Slice(s * config.VocabSize, config.VocabSize).ToArray());
    }

    public void Dispose() => _session.Dispose();
}
