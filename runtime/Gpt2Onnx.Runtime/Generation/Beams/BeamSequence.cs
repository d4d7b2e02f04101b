namespace Gpt2Onnx.Runtime.Generation.Beams;

/// <summary>
/// One of the sequences beam search returns: its new ids (without the stop token that ended it), their text,
/// its score (summed log-probability / generated length^length_penalty) and why it ended.
/// </summary>
public sealed record BeamSequence(int[] TokenIds, string Text, double Score, string FinishReason);
