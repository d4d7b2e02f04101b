using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Lens;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>
/// <c>gpt2-run lens</c>: the logit lens of a prompt (and, with --generate N, of the N tokens greedy decoding adds)
/// on a <c>--with-hidden-states</c> export, written as one self-contained HTML page; --json prints the same
/// numbers as one JSON object.
/// </summary>
internal static class LensCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var prompt = new Option<string>("--prompt") { Description = "the text to look into", Required = true };
        var generate = new Option<int>("--generate")
        {
            Description = "first add this many tokens by greedy decoding", DefaultValueFactory = _ => 0,
        };
        var compare = new Option<string[]>("--compare")
        {
            Description = "single tokens whose ranks to follow across layers, for example \" is\" \" are\"",
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out") { Description = "the HTML page to write", Required = true };
        var json = new Option<bool>("--json") { Description = "also print the lens as one JSON object" };
        var command = new Command("lens", "the logit lens of a prompt as an HTML page (needs --with-hidden-states)")
        {
            prompt, generate, compare, output, json,
        };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            int extra = parsed.GetValue(generate);
            CliHost.Require(extra >= 0 && extra <= LogitLens.MaxPositions,
                            $"--generate takes 0 to {LogitLens.MaxPositions} tokens, not {extra}");
            using var languageModel = model.Load(parsed);
            var ids = new List<int>();
            languageModel.Tokenizer.Encode(parsed.GetValue(prompt)!, ids);
            if (ids.Count == 0) ids.Add(languageModel.EndOfTextId);
            int promptLength = ids.Count;
            if (extra > 0)
            {
                using var generator = new Generator(languageModel);
                var options = new SamplingOptions { Greedy = true, MaxNewTokens = extra };
                var request = new GenerationRequest { PromptIds = ids.ToArray(), Options = options };
                ids.AddRange(generator.Generate(request).TokenIds);
            }
            var report = LogitLens.Compute(languageModel, ids.ToArray(), promptLength, parsed.GetValue(compare) ?? []);
            LensPage.Write(report, parsed.GetValue(output)!);
            Console.Error.WriteLine($"wrote the lens of {ids.Count} tokens over {report.LayerNames.Length} layers " +
                                    $"to {parsed.GetValue(output)}");
            if (parsed.GetValue(json)) Console.WriteLine(report.ToJson());
            return 0;
        });
        return command;
    }
}
