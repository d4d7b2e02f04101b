using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary>
/// <c>gpt2-train sample</c>: text from a checkpoint with the runtime's sampler and options, so that its
/// tokens can be compared one for one with <c>gpt2-run generate</c> on the exported model.
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "checkpoint folder (with its tokenizer " +
                                                                            "files)", Required = true };
        var prompt = new PromptFlags();
        var threads = ThreadsOption.Create("libtorch threads", Environment.ProcessorCount, zeroIsEveryCore: false);
        var json = new Option<bool>("--json") { Description = "print {ids, text} as one JSON object" };
        var sampling = new SamplingFlags();
        var command = new Command("sample", "generate text from a checkpoint with the runtime's sampler") { checkpoint,
            threads, json };
        prompt.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(parsed =>
        {
            string promptText = prompt.ReadText(parsed) ?? "";
            var options = sampling.Read(parsed); // checked before the model loads
            TorchRuntime.Threads = parsed.GetValue(threads);
            string dir = parsed.GetValue(checkpoint)!;
            var tokenizer = Tokenizer.Load(dir);
            using var ckpt = Gpt2Checkpoint.Open(dir);
            // the model's way to sample, changed by the options given
            options = sampling.Read(parsed, GenerationConfig.Read(dir, ckpt.Config).Sampling);
            options = sampling.FitContext(parsed, options, ckpt.Config.NPositions);
            using var model = Gpt2Model.Load(ckpt);
            var ids = new List<int>();
            tokenizer.Encode(promptText, ids);
            if (ids.Count == 0) ids.Add(tokenizer.EndOfTextId);
            // as gpt2-run generate does
            GenerationRequest.FitPrompt(ids, model.Config.NPositions, options.MaxNewTokens,
                                        parsed.GetValue(prompt.Truncate));
            var stops = options.StopTokenIds.Append(tokenizer.EndOfTextId).ToList();
            bool streaming = !parsed.GetValue(json);
            Action<string>? onText = streaming ? Console.Write : null;
            if (streaming) Console.Write(promptText);
            // Stop strings end the text as in the runtime: from the minimum length on, cut before the stop string.
            var text = new GeneratedText(tokenizer, options.StopStrings);
            int count = 0;
            var generated = ModelGenerator.Generate(model, ids, options, stops,
                token => !text.Append(token, onText, watchStops: ++count >= options.MinNewTokens));
            string completion = text.Complete(onText);
            if (streaming)
                Console.WriteLine();
            else
                Console.WriteLine(JsonSerializer.Serialize(new { prompt_ids = ids, ids = generated, text = completion },
                                                           JsonText.Readable));
            return 0;
        });
        return command;
    }
}
