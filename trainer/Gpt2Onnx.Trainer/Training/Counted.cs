namespace Gpt2Onnx.Trainer.Training;

/// <summary>A count and its noun for messages: "1 document", "51,843 documents".</summary>
public static class Counted
{
    public static string Of(long count, string noun) => count == 1 ? $"1 {noun}" : $"{count:N0} {noun}s";
}
