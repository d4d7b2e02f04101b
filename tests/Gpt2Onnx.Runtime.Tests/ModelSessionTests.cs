using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Tests;

public class ModelSessionTests
{
    [Fact]
    public void The_loaded_ONNX_Runtime_is_the_pinned_package_release() =>
        Assert.Equal("1.32.0", ModelSession.RuntimeVersion);

    [Theory]
    [InlineData("/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(ModelProto&&, const " +
                "PathString&) Unsupported model IR version",
                "Unsupported model IR version")]
    [InlineData("/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& " +
                "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library x.so",
                "Failed to load library x.so")]
    [InlineData("Exception during initialization: tensorprotoutils.cc:1469 " +
                "ValidateEmbeddedTensorProtoDataSizeAndShape Initializer 'w': raw_data size (64 bytes)\n does not " +
                "match",
                "Exception during initialization: Initializer 'w': raw_data size (64 bytes) does not match")]
    [InlineData("[ErrorCode:InvalidProtobuf] Load model from m.onnx failed:Protobuf parsing failed.",
                "Load model from m.onnx failed:Protobuf parsing failed.")]
    public void ONNX_Runtime_messages_become_one_line_without_source_locations_or_error_code_prefixes(string message,
        string expected) =>
        Assert.Equal(expected, ModelSession.OneLine(message));
}
