using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Runtime.Tests.Onnx;

public sealed unsafe class HugePagesTests
{
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
}
