using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train prepare</c>: tokenize a corpus into train.bin / val.bin shards.</summary>
internal static class PrepareCommand
{
    public static Command Create()
    {
        var input = new Option<string[]>("--input") { Description = "text, JSONL or chinese-poetry JSON files, " +
                                                                    "folders or patterns", Required = true,
                                                                    AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "tokenizer folder", Required = true };
        var output = new Option<string>("--out") { Description = "the folder for train.bin, val.bin and meta.json",
                                                   Required = true };
        var valFraction = new Option<double>("--val-fraction") { Description = "share of documents held out for " +
                                                                               "validation", DefaultValueFactory = _ =>
                                                                                   0.1 };
        var format = new Option<CorpusFormat>("--format") { Description = "how to read the inputs",
                                                            DefaultValueFactory = _ => CorpusFormat.Auto };
        var textField = new Option<string>("--text-field") { Description = "the JSONL field that holds the text",
                                                             DefaultValueFactory = _ => "text" };
        var threads = ThreadsOption.Create("tokenizer threads", 0, zeroIsEveryCore: true);
        var command = new Command("prepare", "tokenize a corpus into token shards") { input, tokenizer, output,
                                                                                      valFraction, format, textField,
                                                                                      threads };
        command.SetAction(parsed =>
        {
            var progress = new ProgressLine();
            var meta = DataPreparer.Prepare(new PrepareOptions
            {
                Inputs = parsed.GetValue(input)!,
                TokenizerDirectory = parsed.GetValue(tokenizer)!,
                OutputDirectory = parsed.GetValue(output)!,
                ValFraction = parsed.GetValue(valFraction),
                Format = parsed.GetValue(format),
                TextField = parsed.GetValue(textField)!,
                Threads = parsed.GetValue(threads),
            }, progress);
            progress.Done();
            Console.Error.WriteLine($"train: {meta.TrainTokens:N0} tokens in " +
                                    $"{Counted.Of(meta.TrainDocuments, "document")}; val: {meta.ValTokens:N0} tokens " +
                                    $"in {Counted.Of(meta.ValDocuments, "document")}; vocabulary {meta.VocabSize:N0} " +
                                    $"({meta.DType}) → {parsed.GetValue(output)}");
            if (meta.ValSplit == "tail")
                Console.Error.WriteLine("note: the corpus has too few documents to hold " +
                                        $"{parsed.GetValue(valFraction) * 100:0.##}% of them out, so validation is " +
                                        "that share of its tokens, from its end (a document may begin in train and " +
                                        "end in val)");
            return 0;
        });
        return command;
    }
}

/// <summary>One progress line on stderr, rewritten in place on a terminal and printed sparingly otherwise.</summary>
internal sealed class ProgressLine : IProgress<(string Stage, int Done, int Total)>
{
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private string _stage = "";
    private DateTime _last = DateTime.MinValue;

    public void Report((string Stage, int Done, int Total) value)
    {
        var now = DateTime.UtcNow;
        bool stageChanged = value.Stage != _stage;
        if (!stageChanged && value.Done != value.Total
            && now - _last < TimeSpan.FromMilliseconds(_terminal ? 200 : 5000)) return;
        _last = now;
        if (stageChanged && _terminal && _stage.Length > 0) Console.Error.WriteLine();
        _stage = value.Stage;
        string line = $"{value.Stage}: {value.Done:N0}/{value.Total:N0}";
        if (_terminal) Console.Error.Write("\r" + line);
        else Console.Error.WriteLine(line);
    }

    public void Done()
    {
        if (_terminal && _stage.Length > 0) Console.Error.WriteLine();
    }
}
