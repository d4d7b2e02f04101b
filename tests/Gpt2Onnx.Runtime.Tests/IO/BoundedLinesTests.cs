using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tests.IO;

public sealed class BoundedLinesTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    private List<(int, string?)> Read(string content, int maxChars) =>
        Read(System.Text.Encoding.UTF8.GetBytes(content), maxChars);

    private List<(int, string?)> Read(byte[] content, int maxChars)
    {
        File.WriteAllBytes(_path, content);
        return BoundedLines.Read(_path, maxChars).Select(l => (l.Number, l.Text)).ToList();
    }

    [Fact]
    public void Lines_come_back_numbered_with_line_endings_removed()
    {
        Assert.Equal([(1, "a"), (2, ""), (3, "bc"), (4, "詩")], Read("a\n\r\nbc\r\n詩", 10));
        Assert.Equal([(1, "a")], Read("a\n", 10));
        Assert.Empty(Read("", 10));
    }

    [Fact]
    public void A_line_over_the_limit_is_null_and_its_neighbours_are_intact()
    {
        string longLine = new('x', 200_000); // spans several read buffers
        Assert.Equal([(1, "ok"), (2, null), (3, "12345"), (4, null)], Read($"ok\n{longLine}\n12345\r\n123456", 5));
        Assert.Equal(LineProblem.TooLong, BoundedLines.Read(_path, 5).Last().Problem);
    }

    [Fact]
    public void A_line_that_is_not_UTF8_is_reported_not_mended_and_a_byte_order_mark_is_dropped()
    {
        File.WriteAllBytes(_path, [0xEF, 0xBB, 0xBF, (byte)'a', (byte)'\n', 0xFF, (byte)'b', (byte)'\n', 0xE8, 0xA9,
                                   0xA9]);
        Assert.Equal([new BoundedLine(1, "a", LineProblem.None), new BoundedLine(2, null, LineProblem.NotUtf8),
                      new BoundedLine(3, "詩", LineProblem.None)],
                     BoundedLines.Read(_path, 5).ToList());
    }

    [Fact]
    public void A_UTF16_file_is_refused_as_a_whole()
    {
        File.WriteAllBytes(_path, [0xFF, 0xFE, (byte)'a', 0, (byte)'\n', 0]);
        Assert.Contains("save it as UTF-8",
                        Assert.Throws<Gpt2OnnxException>(() => BoundedLines.Read(_path, 5).ToList()).Message);
    }
}
