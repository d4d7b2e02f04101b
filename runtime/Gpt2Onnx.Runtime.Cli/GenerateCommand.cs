using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run generate</c>: continue a prompt, streaming the text (or one JSON object with --json).</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var prompt = new PromptFlags();
        var promptIds = new Option<string?>("--prompt-ids") { Description = "the prompt as token ids, for example " +
                                                                            "15496,995" };
        var json = new Option<bool>("--json") { Description = "print {prompt_ids, ids, text, finish_reason, " +
                                                              "tokens_per_s} as one JSON object" };
        var sampling = new SamplingFlags();
        var beams = new BeamFlags();
        var command = new Command("generate", "continue a prompt with the model") { promptIds, json };
        prompt.AddTo(command);
        model.AddTo(command);
        sampling.AddTo(command);
        beams.AddTo(command);
        command.SetAction(parsed =>
        {
            string? promptText = prompt.ReadText(parsed);
            CliHost.Require(promptText == null || parsed.GetValue(promptIds) == null,
                            "give --prompt (or --prompt-file) or --prompt-ids, not both");
            var options = sampling.Read(parsed); // checked before the model loads
            var beamOptions = beams.Read(parsed);
            CliHost.Require(!beamOptions.Enabled || options.StopStrings.Count == 0,
                            "beam search ends on stop tokens, not strings: give --stop-id instead of --stop");
            int[]? ids = null;
            if (parsed.GetValue(promptIds) is { } text)
            {
                try { ids = TokenIdList.Parse(text); }
                catch (Gpt2OnnxException e) { throw new CliHost.BadUsageException("--prompt-ids: " + e.Message); }
            }
            using var languageModel = model.Load(parsed);
            options = sampling.Read(parsed, languageModel.DefaultSampling);
            options = sampling.FitContext(parsed, options with { Beams = beamOptions }, languageModel.ContextLength);
            using var generator = new Generator(languageModel);
            var request = new GenerationRequest { Prompt = promptText, PromptIds = ids, Options = options,
                                                  TruncatePromptLeft = parsed.GetValue(prompt.Truncate) };
            bool stream = !parsed.GetValue(json);
            // The prompt is echoed once the model has taken it (with its first piece, or at the end), so a prompt
            // it refuses gives the error line alone, not the prompt followed by it.
            string? echo = stream ? promptText : null;
            void Echo(string piece)
            {
                Console.Write(echo + piece);
                Console.Out.Flush();
                echo = null;
            }
            var result = generator.Generate(request, stream ? Echo : null);
            if (stream)
            {
                Echo("");
                Console.WriteLine();
                Console.Error.WriteLine($"[{result.TokenIds.Length} tokens, {result.FinishReason}, " +
                    $"{generator.LastRun.Tokens / Math.Max(generator.LastRun.DecodeSeconds, 1e-9):F1} tokens/s]");
            }
            else
            {
                var output = JsonResult(result, generator, languageModel);
                Console.WriteLine(JsonSerializer.Serialize(output, JsonText.Readable));
            }
            // The model's positions past the window it was trained on never learned anything: say so, once.
            int total = result.PromptIds.Length + result.TokenIds.Length;
            if (languageModel.TrainedContext is int trained && total > trained)
                Console.Error.WriteLine($"note: the model was trained on {trained}-token windows and this text is " +
                                        $"{total} tokens long; past position {trained} its predictions are untrained");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The --json object: {prompt_ids, ids, text, finish_reason, tokens_per_s, device, generation_s (prefill and
    /// decoding, the model's loading left out)}, and with more than one
    /// beam search sequence asked for, sequences: [{ids, text, score}], best first.
    /// </summary>
    private static Dictionary<string, object?> JsonResult(GenerationResult result, Generator generator,
                                                          LanguageModel model)
    {
        var json = new Dictionary<string, object?>
        {
            ["prompt_ids"] = result.PromptIds, ["ids"] = result.TokenIds, ["text"] = result.Text,
            ["finish_reason"] = result.FinishReason,
            ["tokens_per_s"] = generator.LastRun.Tokens / Math.Max(generator.LastRun.DecodeSeconds, 1e-9),
            ["device"] = model.Session.Device,
            ["generation_s"] = generator.LastRun.PrefillSeconds + generator.LastRun.DecodeSeconds,
        };
        if (result.Sequences is { Count: > 1 } sequences)
            json["sequences"] = sequences.Select(s => new { ids = s.TokenIds, text = s.Text, score = s.Score })
                                         .ToList();
        return json;
    }
}
