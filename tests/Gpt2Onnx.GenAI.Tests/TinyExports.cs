using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// Tiny random GPT-2 checkpoints and their exports, made once for all the tests of a class: one with a trained
/// byte-level BPE vocabulary (exported in every variant), one with GPT-2's own tokenizer (the 50,257 ids), and
/// one with a trained WordPiece vocabulary.
/// </summary>
public sealed class TinyExports : IDisposable
{
    private static readonly string[] Corpus =
    [
        "the quick brown fox jumps over the lazy dog", "床前明月光，疑是地上霜。", "hello world, hello model",
        "Don't stop: it's 3.14 or 42 and café, naïve — 🙂 emoji too!",
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("genai-").FullName;
    private readonly Dictionary<string, string> _exports = [];
    private readonly Lazy<string> _bpeCheckpoint, _gpt2Checkpoint, _wordPieceCheckpoint;

    public TinyExports()
    {
        _bpeCheckpoint = new(() =>
        {
            var bpe = BpeTrainer.Train(Corpus, vocabSize: 300);
            return Checkpoint("bpe", bpe, bpe.Save);
        });
        _gpt2Checkpoint = new(() =>
        {
            string gpt2 = Path.Combine(RepositoryRoot.Path, "models", "gpt2-tokenizer");
            if (!File.Exists(Path.Combine(gpt2, "vocab.json")))
                throw new InvalidOperationException($"{gpt2} is missing: run scripts/setup.sh");
            return Checkpoint("gpt2", Tokenizer.Load(gpt2), folder =>
            {
                foreach (var name in new[] { "vocab.json", "merges.txt" })
                    File.Copy(Path.Combine(gpt2, name), Path.Combine(folder, name));
            });
        });
        _wordPieceCheckpoint = new(() =>
        {
            var wordPiece = WordPieceTrainer.Train(Corpus, vocabSize: 120);
            return Checkpoint("wordpiece", wordPiece, folder => WordPieceTrainer.Save(wordPiece, folder));
        });
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The trained byte-level BPE model, exported as this variant in this precision.</summary>
    public string Bpe(GraphVariant variant, Precision precision) => Export(_bpeCheckpoint.Value, variant, precision);

    /// <summary>A model with GPT-2's own vocabulary and tokenizer, exported portable fp32.</summary>
    public string Gpt2 => Export(_gpt2Checkpoint.Value, GraphVariant.Portable, Precision.Fp32);

    /// <summary>The trained WordPiece model exported fused fp32.</summary>
    public string WordPiece => Export(_wordPieceCheckpoint.Value, GraphVariant.Fused, Precision.Fp32);

    /// <summary>A checkpoint of 2 layers, 32 wide, 128 positions, whose vocabulary is the tokenizer's.</summary>
    private string Checkpoint(string name, ITokenizer tokenizer, Action<string> save)
    {
        var config = TinyCheckpoint.Config(vocab: tokenizer.VocabSize, positions: 128) with
        {
            BosTokenId = tokenizer.EndOfTextId, EosTokenId = tokenizer.EndOfTextId,
        };
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, name), config, seed: 5);
        save(checkpoint);
        return checkpoint;
    }

    private string Export(string checkpoint, GraphVariant variant, Precision precision)
    {
        lock (_exports)
        {
            string key = $"{Path.GetFileName(checkpoint)}-{variant}-{precision}".ToLowerInvariant();
            if (!_exports.TryGetValue(key, out var folder))
            {
                folder = Path.Combine(_dir, "onnx-" + key);
                OnnxExporter.Export(checkpoint, folder, new ExportOptions { Variant = variant, Precision = precision });
                _exports[key] = folder;
            }
            return folder;
        }
    }
}
