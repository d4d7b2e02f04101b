using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Tokenizers;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train tokenizer</c>: learn a byte-level BPE or WordPiece vocabulary from a corpus.</summary>
internal static class TokenizerCommand
{
    public static Command Create()
    {
        var input = new Option<string[]>("--input") { Description = "corpus files, folders or patterns",
                                                      Required = true, AllowMultipleArgumentsPerToken = true };
        var kind = new Option<string>("--kind") { Description = "bpe (GPT-2 byte-level) or wordpiece (BERT style; " +
                                                                "character-level on Chinese)",
                                                                DefaultValueFactory = _ => "bpe" };
        kind.AcceptOnlyFromAmong("bpe", "wordpiece");
        var vocabSize = new Option<int>("--vocab-size") { Description = "tokens in the vocabulary, special tokens " +
                                                                        "included", Required = true };
        var minFrequency = new Option<int>("--min-frequency") { Description = "ignore characters (WordPiece) and " +
                                                                              "pairs seen fewer " +
                                                                              "times", DefaultValueFactory = _ => 2 };
        var lowerCase = new Option<bool>("--lower-case") { Description = "WordPiece: lower-case and strip accents" };
        var format = new Option<CorpusFormat>("--format") { Description = "how to read the inputs",
                                                            DefaultValueFactory = _ => CorpusFormat.Auto };
        var textField = new Option<string>("--text-field") { Description = "the JSONL field that holds the text",
                                                             DefaultValueFactory = _ => "text" };
        var output = new Option<string>("--out") { Description = "the folder to write vocab.json + merges.txt, or " +
                                                                 "vocab.txt", Required = true };
        var command = new Command("tokenizer", "train a byte-level BPE or WordPiece vocabulary from a corpus")
        {
            input, kind, vocabSize, minFrequency, lowerCase, format, textField, output,
        };
        command.SetAction(parsed =>
        {
            CliHost.Require(parsed.GetValue(minFrequency) >= 1, "--min-frequency must be 1 or more");
            var files = CorpusReader.ExpandPaths(parsed.GetValue(input)!);
            // The corpus streams through the trainer's word count, never held whole: pieces, not documents,
            // which are cut between words, so the words counted are the same.
            long documents = 0;
            bool anyText = false;
            IEnumerable<string> Texts()
            {
                foreach (var file in files)
                    foreach (var piece in CorpusReader.ReadPieces(file, parsed.GetValue(format),
                                                                  parsed.GetValue(textField)!))
                    {
                        if (piece.EndsDocument) documents++;
                        anyText |= piece.Text.Length > 0;
                        yield return piece.Text;
                    }
            }
            string outDir = parsed.GetValue(output)!;
            OutputFolder.Check(outDir); // before the learning, which can take minutes
            RefuseOverlap(outDir, parsed.GetValue(input)!.Where(Path.Exists).Concat(files));
            Console.Error.WriteLine($"learning a {parsed.GetValue(kind)} vocabulary of {parsed.GetValue(vocabSize)} " +
                                    $"from {files.Count} file(s)");
            Action save;
            int size;
            if (parsed.GetValue(kind) == "bpe")
            {
                var bpe = BpeTrainer.Train(Texts(), parsed.GetValue(vocabSize), parsed.GetValue(minFrequency));
                (save, size) = (() => bpe.Save(outDir), bpe.VocabSize);
            }
            else
            {
                var wordPiece = WordPieceTrainer.Train(Texts(), parsed.GetValue(vocabSize),
                                                       parsed.GetValue(minFrequency), parsed.GetValue(lowerCase));
                (save, size) = (() => WordPieceTrainer.Save(wordPiece, outDir), wordPiece.VocabSize);
            }
            if (!anyText) throw new Gpt2OnnxException("the corpus is empty: the input files hold no text");
            save();
            Console.Error.WriteLine($"wrote a vocabulary of {size} tokens, learned from " +
                                    $"{Counted.Of(documents, "document")}, to {outDir}");
            if (size < parsed.GetValue(vocabSize))
                Console.Error.WriteLine($"note: {size:N0} of the {parsed.GetValue(vocabSize):N0} tokens asked for: " +
                                        "the corpus has no more to learn (pairs to merge, or characters); more text " +
                                        "gives a larger vocabulary");
            return 0;
        });
        return command;
    }

    /// <summary>What a model or token shards folder holds: a vocabulary written beside them replaces theirs.</summary>
    private static readonly string[] ModelFiles =
    [
        "config.json", "model.safetensors", "pytorch_model.bin", "model.onnx", "genai_config.json", "meta.json",
        "train.bin", "trainer_state",
    ];

    /// <summary>
    /// Refuses an --out on, around or inside an input (the corpus would change under a rerun), or in a model or
    /// data folder, whose ids would then silently mean other text.
    /// </summary>
    private static void RefuseOverlap(string outDir, IEnumerable<string> inputs)
    {
        foreach (var path in inputs) PathOverlap.Refuse(outDir, "--out", path, "--input");
        if (ModelFiles.FirstOrDefault(name => Path.Exists(Path.Combine(outDir, name))) is { } held)
            throw new Gpt2OnnxException($"--out {outDir} holds {held}, so it is a model or data folder: a vocabulary " +
                                        "written there replaces the one its ids were made with; choose a folder of " +
                                        "its own");
    }
}
