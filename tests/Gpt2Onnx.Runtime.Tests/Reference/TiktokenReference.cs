namespace Gpt2Onnx.Runtime.Tests.Reference;

/// <summary>Runs OpenAI's tiktoken (npm, "gpt2" encoding) on texts: the independent expectation for GPT-2
/// ids.</summary>
internal static class TiktokenReference
{
    public static int[][] Encode(IReadOnlyList<string> texts) => NodeReference.Run<int[][]>("tiktoken-gpt2.js", texts);
}
