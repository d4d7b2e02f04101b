using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tests.IO;

public sealed class OutputFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_folder_that_exists_or_can_be_made_passes()
    {
        OutputFolder.Check(_dir);
        OutputFolder.Check(Path.Combine(_dir, "new", "deeper"));
    }

    [Fact]
    public void A_file_in_its_place_or_in_a_parent_s_is_one_error_before_any_work()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "keep me");
        Assert.Equal($"{file} is a file: --out names the folder to write, so choose another path",
                     Assert.Throws<Gpt2OnnxException>(() => OutputFolder.Check(file)).Message);
        Assert.Equal($"cannot make the folder {file}/sub: {file} is a file; choose another --out",
                     Assert.Throws<Gpt2OnnxException>(() => OutputFolder.Check(Path.Combine(file, "sub"))).Message);
        Assert.Equal("keep me", File.ReadAllText(file));
    }
}
