using Gpt2Onnx.Runtime.IO;

namespace Gpt2Onnx.Runtime.Tests.IO;

public sealed class BoundedLinesTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    private List<(int, string?)> Read(string content, int maxChars)
    {
        File.WriteAllText(_path, content);
        return BoundedLines.Read(_path, maxChars).ToList();
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
    }
}
