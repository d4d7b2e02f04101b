using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary>
/// <c>gpt2-train convert --from tf</c>: a TensorFlow GPT-2 checkpoint (OpenAI's release or GPT2_ML's) written
/// as a Hugging Face checkpoint folder that every other command reads.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "the checkpoint's format: tf", Required = true };
        from.AcceptOnlyFromAmong("tf");
        var checkpoint = new Option<string>("--checkpoint")
        {
            Description = "the TensorFlow checkpoint folder (PREFIX.index, data shards, hparams.json)",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "the HF checkpoint folder to write", Required = true };
        var force = new Option<bool>("--force") { Description = "replace a non-empty --out folder" };
        var command = new Command("convert", "write a TensorFlow GPT-2 checkpoint (OpenAI's or GPT2_ML's) as a " +
                                             "Hugging Face checkpoint") { from, checkpoint, output, force };
        command.SetAction(parsed =>
        {
            Console.Error.WriteLine($"converting {parsed.GetValue(checkpoint)}");
            var result = TfCheckpointConverter.Convert(parsed.GetValue(checkpoint)!, parsed.GetValue(output)!,
                                                       parsed.GetValue(force));
            var c = result.Config;
            Console.WriteLine($"wrote a {c.NLayer}-layer, {c.NEmbd}-wide {(c.IsGpt2Ml ? "GPT2_ML" : "GPT-2")} " +
                              $"({c.ParameterCount:N0} parameters, {result.Tensors} tensors) to " +
                              $"{result.OutputDirectory}; {result.Skipped} optimizer slots and counters left unread");
            return 0;
        });
        return command;
    }
}
