using System.Buffers.Binary;
using Gpt2Onnx.Runtime;
using Gpt2Onnx.Runtime.IO;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>What <c>gpt2-train prepare</c> does, as a library call.</summary>
public sealed record PrepareOptions
{
    public required IReadOnlyList<string> Inputs { get; init; }
    public required string TokenizerDirectory { get; init; }
    public required string OutputDirectory { get; init; }
    /// <summary>The share of documents held out for validation, spread evenly through the corpus.</summary>
    public double ValFraction { get; init; } = 0.1;
    public CorpusFormat Format { get; init; } = CorpusFormat.Auto;
    public string TextField { get; init; } = "text";
    public int Threads { get; init; }
}

/// <summary>
/// Tokenizes a corpus in parallel into train.bin / val.bin (documents separated by the end-of-text id,
/// split by document) with meta.json and a copy of the tokenizer. Deterministic: the same corpus and
/// tokenizer give byte-identical shards, whatever the thread count.
/// </summary>
public static class DataPreparer
{
    public static ShardMeta Prepare(PrepareOptions options, IProgress<(string Stage, int Done, int Total)>? progress = null)
    {
        if (!(options.ValFraction >= 0 && options.ValFraction < 1))
            throw new Gpt2OnnxException($"the validation fraction must be in [0, 1), not {options.ValFraction}");
        var tokenizer = Tokenizer.Load(options.TokenizerDirectory);
        var files = CorpusReader.ExpandPaths(options.Inputs);
        var documents = new List<string>();
        for (int i = 0; i < files.Count; i++)
        {
            documents.AddRange(CorpusReader.ReadDocuments(files[i], options.Format, options.TextField).Where(d => d.Length > 0));
            progress?.Report(("reading", i + 1, files.Count));
        }
        if (documents.Count == 0)
            throw new Gpt2OnnxException($"the corpus is empty: none of the {files.Count} input file(s) holds any text");

        var ids = ParallelEncoder.EncodeAll(tokenizer, documents, options.Threads, done => progress?.Report(("tokenizing", done, documents.Count)));
        int eos = tokenizer.EndOfTextId;
        string dtype = tokenizer.VocabSize > 65535 ? "uint32" : "uint16";
        int width = dtype == "uint32" ? 4 : 2;

        Directory.CreateDirectory(options.OutputDirectory);
        // Document i goes to validation when the running count of val documents, i·f, crosses an integer:
        // evenly spread, deterministic, and exactly round(n·f) of them.
        bool IsVal(int i) => Math.Floor((i + 1) * options.ValFraction) > Math.Floor(i * options.ValFraction);
        var (trainTokens, trainDocs) = WriteShard(Path.Combine(options.OutputDirectory, "train.bin"), ids, i => !IsVal(i), eos, width);
        var (valTokens, valDocs) = WriteShard(Path.Combine(options.OutputDirectory, "val.bin"), ids, IsVal, eos, width);
        if (trainTokens == 0) throw new Gpt2OnnxException("no document was left for training: lower --val-fraction");

        string tokenizerCopy = Path.Combine(options.OutputDirectory, "tokenizer");
        TokenizerFolder.CopyTo(options.TokenizerDirectory, tokenizerCopy);
        var meta = new ShardMeta
        {
            DType = dtype,
            VocabSize = tokenizer.VocabSize,
            EosTokenId = eos,
            TrainTokens = trainTokens,
            ValTokens = valTokens,
            TrainDocuments = trainDocs,
            ValDocuments = valDocs,
            Tokenizer = "tokenizer",
            TokenizerSha256 = TokenizerFolder.Hash(tokenizerCopy),
        };
        meta.Save(options.OutputDirectory);
        return meta;
    }

    /// <summary>Writes the chosen documents, each followed by the end-of-text id.</summary>
    private static (long Tokens, int Documents) WriteShard(string path, int[][] documents, Func<int, bool> include, int eos, int width)
    {
        long tokens = 0;
        int count = 0;
        AtomicFile.Write(path, stream =>
        {
            var buffer = new byte[1 << 16];
            int used = 0;
            void Put(int id)
            {
                if (used + width > buffer.Length)
                {
                    stream.Write(buffer, 0, used);
                    used = 0;
                }
                if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(used), (ushort)id);
                else BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(used), (uint)id);
                used += width;
            }
            for (int i = 0; i < documents.Length; i++)
            {
                if (!include(i)) continue;
                foreach (int id in documents[i]) Put(id);
                Put(eos);
                tokens += documents[i].Length + 1;
                count++;
            }
            stream.Write(buffer, 0, used);
        });
        return (tokens, count);
    }
}
