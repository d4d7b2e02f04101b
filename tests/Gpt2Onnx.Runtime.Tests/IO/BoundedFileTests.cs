using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tests.IO;

public sealed class BoundedFileTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(200_000)] // beyond the first buffer, so it grows
    public void A_file_up_to_the_limit_is_read_whole_and_one_byte_more_is_refused(int size)
    {
        var bytes = Enumerable.Range(0, size).Select(i => (byte)(i * 7)).ToArray();
        File.WriteAllBytes(_path, bytes);
        Assert.Equal(bytes, BoundedFile.ReadAllBytes(_path, size));
        if (size > 0) Assert.Null(BoundedFile.ReadAllBytes(_path, size - 1));
    }

    [Fact]
    public void A_device_that_never_ends_stops_at_the_limit()
    {
        Assert.Null(BoundedFile.ReadAllBytes("/dev/zero", 300_000)); // reports 0 bytes; read whole it would fill memory
        var error = Assert.Throws<Gpt2OnnxException>(() => TextFile.Read("/dev/zero", 1000, "split it"));
        Assert.Contains("holds over the 1,000 bytes this reads whole", error.Message);
    }
}
