using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Tests;

public class OrtLibraryTests
{
    [Fact]
    public void Version_through_our_own_C_API_binding_is_the_pinned_release() =>
        Assert.Equal("1.30.0", OrtLibrary.Version);
}
