using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Native;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Onnx;

public sealed unsafe class HugePagesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(2 << 20)]
    [InlineData((3 << 20) + 5)]
    public void A_huge_page_buffer_starts_on_a_2_MB_boundary_and_is_zeroed_and_writable(int size)
    {
        Assert.True(HugePages.Available); // the tests run on Linux
        var memory = (byte*)HugePages.Allocate((nuint)size);
        Assert.True(memory != null);
        try
        {
            Assert.Equal(0u, (nuint)memory % HugePages.PageSize);
            var span = new Span<byte>(memory, size);
            Assert.True(span.IndexOfAnyExcept((byte)0) < 0);
            span.Fill(0xAB);
            Assert.Equal(0xAB, memory[size - 1]);
        }
        finally
        {
            HugePages.Free(memory, (nuint)size);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Weights_on_huge_pages_give_the_logits_of_ordinary_memory_bit_for_bit(bool fused)
    {
        // A 2048 × 256 fp32 LM head is exactly one 2 MB page once ONNX Runtime packs it.
        var (_, portable, fusedFolder) = TinyModel.Export(_dir, vocab: 2048, embd: 256);
        string folder = fused ? fusedFolder : portable;
        int[] ids = [5, 17, 250, 3, 99];
        float[] ordinary, huge;
        using (var model = LanguageModel.Load(folder, new SessionSettings { IntraOpThreads = 1, HugePages = false }))
            ordinary = model.SequenceLogits(ids);
        int before = HugePageAllocator.HugeBuffersLoadedOnThisThread;
        using (var model = LanguageModel.Load(folder, new SessionSettings { IntraOpThreads = 1 }))
        {
            Assert.True(HugePageAllocator.HugeBuffersLoadedOnThisThread > before, "no weight was put on huge pages");
            huge = model.SequenceLogits(ids);
        }
        Assert.Equal(ordinary, huge);
    }
}
