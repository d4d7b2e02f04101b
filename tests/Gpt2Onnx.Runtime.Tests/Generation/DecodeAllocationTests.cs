using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>
/// What a decode step allocates on the managed heap, on the thread that runs it, over 200 steps after a warm-up:
/// the fused graph's step is bound once and allocates nothing; the portable graph's step rebinds its growing
/// past and present, at most 100 bytes a layer.
/// </summary>
public sealed class DecodeAllocationTests : IDisposable
{
    private const int Steps = 200, WarmUp = 5;
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _portable, _fused;

    public DecodeAllocationTests() => (_, _portable, _fused) = TinyModel.Export(_dir, positions: 256);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void A_fused_step_allocates_no_managed_memory(int batch) =>
        Assert.Equal(0, BytesPerStep(_fused, batch));

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void A_portable_step_allocates_at_most_100_bytes_a_layer(int batch)
    {
        using var model = LanguageModel.Load(_portable, new SessionSettings { IntraOpThreads = 1 });
        double bytes = BytesPerStep(_portable, batch);
        Assert.True(bytes <= 100.0 * model.Layers, $"{bytes} bytes a step for {model.Layers} layers");
    }

    private static double BytesPerStep(string folder, int batch)
    {
        using var model = LanguageModel.Load(folder, new SessionSettings { IntraOpThreads = 1 });
        using var decoder = model.CreateDecoder(batch, 4 + WarmUp + Steps);
        decoder.Prefill(Enumerable.Range(0, batch).Select(b => new[] { 1 + b, 2, 3, 4 }).ToList());
        var sampler = new Sampler(model.VocabSize, new SamplingOptions { Seed = 1, TopK = 20, TopP = 0.9 });
        sampler.Reset([1, 2, 3, 4]);
        var tokens = new int[batch];
        void Step()
        {
            tokens[0] = sampler.Next(decoder.Logits(0));
            decoder.Step(tokens);
        }
        for (int i = 0; i < WarmUp; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Steps; i++) Step();
        return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / Steps;
    }
}
