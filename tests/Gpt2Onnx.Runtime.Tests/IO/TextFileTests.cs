using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tests.IO;

public sealed class TextFileTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void A_file_is_read_whole_without_its_byte_order_mark()
    {
        File.WriteAllBytes(_path, [0xEF, 0xBB, 0xBF, .. "詩 ok"u8]);
        Assert.Equal("詩 ok", TextFile.Read(_path, 100, "split it"));
    }

    [Fact]
    public void A_file_over_the_cap_is_refused_before_it_is_read_and_says_what_to_do()
    {
        File.WriteAllText(_path, new string('a', 101));
        var error = Assert.Throws<Gpt2OnnxException>(() => TextFile.Read(_path, 100, "split it"));
        Assert.Contains("101 bytes, over the 100", error.Message);
        Assert.EndsWith(": split it", error.Message);
    }

    [Fact]
    public void A_file_that_is_not_UTF8_is_refused()
    {
        File.WriteAllBytes(_path, [(byte)'a', 0xFF]);
        Assert.Contains("is not UTF-8 text",
                        Assert.Throws<Gpt2OnnxException>(() => TextFile.Read(_path, 100, "split it")).Message);
    }

    [Fact]
    public void A_folder_given_as_the_file_is_named_as_a_folder() =>
        Assert.EndsWith("is a folder: pass a text file",
                        Assert.Throws<Gpt2OnnxException>(() => TextFile.Read(Path.GetTempPath(), 100, "split it"))
                            .Message);
}
