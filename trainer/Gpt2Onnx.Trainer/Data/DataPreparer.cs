using System.Buffers.Binary;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>What <c>gpt2-train prepare</c> does, as a library call.</summary>
public sealed record PrepareOptions
{
    public required IReadOnlyList<string> Inputs { get; init; }
    public required string TokenizerDirectory { get; init; }
    public required string OutputDirectory { get; init; }
    /// <summary>
    /// The share of documents held out for validation, spread evenly through the corpus; when that holds out
    /// none (one large text file, say), the same share of the tokens at the corpus's end.
    /// </summary>
    public double ValFraction { get; init; } = 0.1;
    public CorpusFormat Format { get; init; } = CorpusFormat.Auto;
    public string TextField { get; init; } = "text";
    public int Threads { get; init; }
}

/// <summary>
/// Tokenizes a corpus in parallel into train.bin / val.bin (documents separated by the end-of-text id,
/// split by document) with meta.json and a copy of the tokenizer. Streams: the corpus is read and encoded
/// a batch of pieces at a time (<see cref="BatchChars"/>), so memory does not grow with its size.
/// Deterministic: the same corpus and tokenizer give byte-identical shards, whatever the thread count.
/// </summary>
public static class DataPreparer
{
    /// <summary>About how many characters are encoded together (in parallel) before their ids are written.</summary>
    public const int BatchChars = 16 << 20;

    public static ShardMeta Prepare(PrepareOptions options,
                                    IProgress<(string Stage, int Done, int Total)>? progress = null)
    {
        if (!(options.ValFraction >= 0 && options.ValFraction < 1))
            throw new Gpt2OnnxException($"the validation fraction must be in [0, 1), not {options.ValFraction}");
        OutputFolder.Check(options.OutputDirectory);
        var tokenizer = Tokenizer.Load(options.TokenizerDirectory);
        var files = CorpusReader.ExpandPaths(options.Inputs);
        foreach (var input in options.Inputs.Where(Path.Exists).Concat(files))
            PathOverlap.Refuse(options.OutputDirectory, "--out", input, "--input");
        PathOverlap.Refuse(options.OutputDirectory, "--out", options.TokenizerDirectory, "--tokenizer");
        int eos = tokenizer.EndOfTextId;
        string dtype = tokenizer.VocabSize > 65535 ? "uint32" : "uint16";
        int width = dtype == "uint32" ? 4 : 2;

        Directory.CreateDirectory(options.OutputDirectory);
        using var train = new ShardWriter(Path.Combine(options.OutputDirectory, "train.bin"), width);
        using var val = new ShardWriter(Path.Combine(options.OutputDirectory, "val.bin"), width);
        // Document i goes to validation when the running count of val documents, i·f, crosses an integer:
        // evenly spread, deterministic, and exactly round(n·f) of them.
        bool IsVal(long i) => Math.Floor((i + 1) * options.ValFraction) > Math.Floor(i * options.ValFraction);

        long document = 0; // the index of the document the next piece belongs to, among those with text
        bool started = false; // whether that document has shown any text yet
        var batch = new List<CorpusPiece>();
        long batchChars = 0;
        void Flush()
        {
            var ids = ParallelEncoder.EncodeAll(tokenizer, batch.Select(p => p.Text).ToList(), options.Threads);
            for (int i = 0; i < batch.Count; i++)
            {
                if (batch[i].Text.Length > 0) started = true;
                if (!started) continue; // an empty document is no document
                var shard = IsVal(document) ? val : train;
                shard.Write(ids[i]);
                if (!batch[i].EndsDocument) continue;
                shard.EndDocument(eos);
                document++;
                started = false;
            }
            batch.Clear();
            batchChars = 0;
        }
        for (int f = 0; f < files.Count; f++)
        {
            foreach (var piece in CorpusReader.ReadPieces(files[f], options.Format, options.TextField))
            {
                batch.Add(piece);
                batchChars += piece.Text.Length;
                if (batchChars >= BatchChars) Flush();
            }
            progress?.Report(("tokenizing", f + 1, files.Count));
        }
        Flush();
        if (document == 0)
            throw new Gpt2OnnxException($"the corpus is empty: none of the {files.Count} input file(s) holds any text");
        if (train.Tokens == 0) throw new Gpt2OnnxException("no document was left for training: lower --val-fraction");
        // Too few documents to hold one out (a single book, say): hold out the stream's last tokens instead,
        // as nanoGPT splits its text, rather than train with no validation at all.
        long tailTokens = val.Tokens == 0
            ? Math.Min((long)Math.Round(train.Tokens * options.ValFraction), train.Tokens - 1) : 0;
        bool tail = tailTokens > 0;
        if (tail) train.MoveTailTo(val, tailTokens, eos);
        train.Commit();
        val.Commit();

        string tokenizerCopy = Path.Combine(options.OutputDirectory, "tokenizer");
        TokenizerFolder.CopyTo(options.TokenizerDirectory, tokenizerCopy);
        var meta = new ShardMeta
        {
            DType = dtype,
            VocabSize = tokenizer.VocabSize,
            EosTokenId = eos,
            TrainTokens = train.Tokens,
            ValTokens = val.Tokens,
            TrainDocuments = train.Documents,
            ValDocuments = val.Documents,
            ValSplit = tail ? "tail" : "documents",
            Tokenizer = "tokenizer",
            TokenizerSha256 = TokenizerFolder.Hash(tokenizerCopy),
        };
        meta.Save(options.OutputDirectory);
        return meta;
    }

    /// <summary>A shard being written (under a temporary name until committed): little-endian ids of one
    /// width.</summary>
    private sealed class ShardWriter(string path, int width) : IDisposable
    {
        private readonly AtomicFile.PendingFile _file = AtomicFile.Begin(path);
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _used;

        public long Tokens { get; private set; }
        public int Documents { get; private set; }

        public void Write(int[] ids)
        {
            foreach (int id in ids) Put(id);
        }

        /// <summary>Ends a document with the end-of-text id.</summary>
        public void EndDocument(int eos)
        {
            Put(eos);
            Documents++;
        }

        private void Put(int id)
        {
            if (_used + width > _buffer.Length)
            {
                _file.Stream.Write(_buffer, 0, _used);
                _used = 0;
            }
            if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_used), (ushort)id);
            else BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_used), (uint)id);
            _used += width;
            Tokens++;
        }

        /// <summary>Moves this shard's last <paramref name="count"/> tokens to the end of <paramref
        /// name="other"/>.</summary>
        public void MoveTailTo(ShardWriter other, long count, int eos)
        {
            var stream = _file.Stream;
            stream.Write(_buffer, 0, _used);
            _used = 0;
            long start = (Tokens - count) * width;
            stream.Position = start - width;
            var chunk = new byte[1 << 20];
            int IdAt(int at) => width == 2
                ? BinaryPrimitives.ReadUInt16LittleEndian(chunk.AsSpan(at))
                    : (int)BinaryPrimitives.ReadUInt32LittleEndian(chunk.AsSpan(at));
            stream.ReadExactly(chunk, 0, width);
            // the last token kept ends no document: one cut in two counts in both shards
            if (IdAt(0) != eos) Documents++;
            int read;
            while ((read = stream.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false)) > 0)
                for (int at = 0; at < read; at += width)
                {
                    int id = IdAt(at);
                    other.Put(id);
                    if (id != eos) continue;
                    other.Documents++; // a document's end moves with it
                    Documents--;
                }
            stream.SetLength(start);
            Tokens -= count;
        }

        public void Commit()
        {
            _file.Stream.Write(_buffer, 0, _used);
            _used = 0;
            _file.Commit();
        }

        public void Dispose() => _file.Dispose();
    }
}
