using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run perplexity</c>: the model's perplexity on a text file, with a sliding window.</summary>
internal static class PerplexityCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var input = new Option<string>("--input") { Description = "a UTF-8 text file", Required = true };
        var window = new Option<int>("--window") { Description = "tokens per window (0 = the window the model was " +
                                                                 "trained on, recorded at export; else its context)",
                                                                 DefaultValueFactory = _ => 0 };
        var stride = new Option<int>("--stride") { Description = "tokens the window moves by (0 = half the window)",
                                                   DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "print {loss, perplexity, tokens, windows} as one JSON " +
                                                              "object" };
        var command = new Command("perplexity", "perplexity of the model on a text file (sliding window)") { input,
            window, stride, json };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            string text = TextFile.Read(parsed.GetValue(input)!, 256L << 20,
                                        "take a sample (a run over that many tokens would take days on a CPU)");
            using var languageModel = model.Load(parsed);
            var ids = new List<int>();
            languageModel.Tokenizer.Encode(text, ids);
            var result = Perplexity.Evaluate(languageModel, ids, parsed.GetValue(window), parsed.GetValue(stride));
            if (parsed.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { loss = result.Loss, perplexity = result.Perplexity,
                                                                 tokens = result.Tokens, windows = result.Windows }));
            else
                Console.WriteLine($"perplexity {result.Perplexity:F3} (loss {result.Loss:F4}) over " +
                                  $"{result.Tokens:N0} tokens in {result.Windows} windows");
            return 0;
        });
        return command;
    }
}
