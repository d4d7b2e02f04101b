namespace Gpt2Onnx.Core;

/// <summary>
/// A problem the user can fix: a missing file, a bad option, a corrupt model. The message is one line
/// that says what was wrong and what to do; command lines print it and exit with code 1.
/// </summary>
public class Gpt2OnnxException : Exception
{
    public Gpt2OnnxException(string message) : base(message) { }
    public Gpt2OnnxException(string message, Exception inner) : base(message, inner) { }
}
