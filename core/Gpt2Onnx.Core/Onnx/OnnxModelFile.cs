using Google.Protobuf;
using Gpt2Onnx.Core.Onnx.Proto;

namespace Gpt2Onnx.Core.Onnx;

/// <summary>A whole ONNX model file read into memory, weights included, or one error line saying why not.</summary>
public static class OnnxModelFile
{
    public static ModelProto Read(string file)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(file);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new Gpt2OnnxException($"{file} is not a valid ONNX model ({e.Message}): is the file complete?");
        }
        return model.Graph != null ? model
            : throw new Gpt2OnnxException($"{file} holds no graph: is it an ONNX model?");
    }
}
