using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Runs one batch of sequences through the model with a key/value cache: a prefill of the prompts, then
/// one token per sequence per step. Every buffer is allocated when the decoder is made or at prefill;
/// a step allocates no managed memory. Subclasses differ in how the cache is kept.
/// </summary>
internal abstract unsafe class Decoder : IDisposable
{
    protected readonly LanguageModel Model;
    protected readonly OrtIoBinding Binding;
    /// <summary>The most sequences, and tokens per sequence, this decoder's buffers hold.</summary>
    public int MaxBatch { get; }
    public int MaxLength { get; }
    protected readonly int[] Lengths;           // real tokens in the cache, per sequence
    protected readonly NativeTensor StepLogits;    // (B, 1, V)
    protected readonly NativeTensor StepIds;       // (B, 1)
    protected readonly NativeTensor StepPositions; // (B, 1)
    private readonly float[] _lastLogits;       // (B, V): each sequence's newest logits
    protected static readonly Utf8Name InputIdsName = new(GraphNames.InputIds);
    protected static readonly Utf8Name PositionIdsName = new(GraphNames.PositionIds);
    protected static readonly Utf8Name LogitsName = new(GraphNames.Logits);
    protected static readonly Utf8Name LogitsToKeepName = new(GraphNames.LogitsToKeep);
    protected readonly Utf8Name[] PastKeyNames, PastValueNames, PresentKeyNames, PresentValueNames;
    /// <summary>Whether the graph takes logits_to_keep, so a prefill can skip the LM head where no token is
    /// sampled.</summary>
    protected readonly bool KeepsLastLogits;
    private readonly NativeTensor _logitsToKeep; // () int64

    /// <summary>
    /// Refuses a batch whose buffers (the cache of every layer, the logits, the mask) would not fit in this
    /// machine's memory or in an array, before any is allocated: sizes come from users and from files.
    /// </summary>
    internal static void CheckMemory(LanguageModel model, int maxBatch, int maxLength)
    {
        double cache = 2.0 * model.Layers * maxBatch * model.Heads * maxLength * model.HeadSize
                       * model.CacheType.SizeOf();
        double bytes = cache + 2.0 * maxBatch * model.VocabSize * sizeof(float)
            + 2.0 * maxBatch * maxLength * sizeof(long);
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available || (double)maxBatch * model.VocabSize > Array.MaxLength
            || (double)maxBatch * maxLength > Array.MaxLength)
            throw new Gpt2OnnxException($"a batch of {maxBatch} sequences of up to {maxLength} tokens needs " +
                                        $"{bytes / 1e9:F1} GB for its key/value cache and logits, beyond this " +
                                        $"machine's {available / 1e9:F1} GB: lower the batch (--max-batch) or the " +
                                        "length (--max-length)");
    }

    protected Decoder(LanguageModel model, int maxBatch, int maxLength)
    {
        if (maxLength > model.ContextLength)
            throw new Gpt2OnnxException($"{maxLength} tokens exceed the model's context of {model.ContextLength}: " +
                                        "shorten the prompt or --max-new-tokens");
        CheckMemory(model, maxBatch, maxLength);
        Model = model;
        MaxBatch = maxBatch;
        MaxLength = maxLength;
        Lengths = new int[maxBatch];
        Binding = model.Session.CreateBinding();
        _lastLogits = new float[maxBatch * model.VocabSize];
        StepLogits = NativeTensor.OnHostMemory(TensorElementType.Float, [maxBatch, 1, model.VocabSize],
                                               ((long)maxBatch * model.VocabSize * sizeof(float)));
        StepIds = NativeTensor.OnHostMemory(TensorElementType.Int64, [maxBatch, 1], (maxBatch * sizeof(long)));
        StepPositions = NativeTensor.OnHostMemory(TensorElementType.Int64, [maxBatch, 1], (maxBatch * sizeof(long)));
        PastKeyNames = Enumerable.Range(0, model.Layers).Select(i => new Utf8Name(GraphNames.PastKey(i))).ToArray();
        PastValueNames = Enumerable.Range(0, model.Layers).Select(i => new Utf8Name(GraphNames.PastValue(i))).ToArray();
        PresentKeyNames = Enumerable.Range(0, model.Layers).Select(i => new Utf8Name(GraphNames.PresentKey(i)))
            .ToArray();
        PresentValueNames = Enumerable.Range(0, model.Layers).Select(i => new Utf8Name(GraphNames.PresentValue(i)))
            .ToArray();
        KeepsLastLogits = model.Session.Input(GraphNames.LogitsToKeep) != null;
        _logitsToKeep = NativeTensor.OnHostMemory(TensorElementType.Int64, [], sizeof(long));
    }

    /// <summary>
    /// Asks for logits of the last <paramref name="rows"/> positions only (when the graph allows it). The
    /// value stays bound: a step has one position, which any count of at least one keeps.
    /// </summary>
    protected void BindLogitsToKeep(int rows)
    {
        if (!KeepsLastLogits) return;
        _logitsToKeep.Span<long>()[0] = rows;
        Binding.BindInput(LogitsToKeepName, _logitsToKeep);
    }

    public int BatchSize { get; protected set; }

    /// <summary>Stopwatch ticks spent inside ONNX Runtime's Run since the decoder was made (the rest is host
    /// work).</summary>
    public long RunTicks { get; private set; }

    /// <summary>Runs the bound graph, counting the time it takes.</summary>
    protected void RunBinding()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Model.Session.Run(Binding);
        RunTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
    }

    /// <summary>Tokens of sequence <paramref name="row"/> in the cache.</summary>
    public int Length(int row) => Lengths[row];

    /// <summary>The most tokens sequence <paramref name="row"/> can reach (less than MaxLength where padding takes
    /// room).</summary>
    public virtual int Capacity(int row) => MaxLength;

    /// <summary>The newest logits of sequence <paramref name="row"/> (valid until the next step).</summary>
    public Span<float> Logits(int row) => _lastLogits.AsSpan(row * Model.VocabSize, Model.VocabSize);

    /// <summary>
    /// Processes one sequence as a fresh batch and returns the logits of every position, row-major
    /// (S × V); the cache then holds the sequence, so <see cref="Step"/> can continue it.
    /// </summary>
    public float[] PrefillAll(int[] sequence)
    {
        Prefill([sequence], keepAll: true);
        return _allLogits!;
    }

    private float[]? _allLogits;

    /// <summary>Processes the prompts (each non-empty) as a fresh batch.</summary>
    public virtual void Prefill(IReadOnlyList<int[]> prompts) => Prefill(prompts, keepAll: false);

    /// <summary>Checks a fresh batch of prompts against this decoder's size.</summary>
    protected void CheckPrompts(IReadOnlyList<int[]> prompts)
    {
        if (prompts.Count == 0 || prompts.Count > MaxBatch)
            throw new ArgumentException($"between 1 and {MaxBatch} prompts");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token");
        int longest = prompts.Max(p => p.Length);
        if (longest > MaxLength) throw new Gpt2OnnxException($"a prompt of {longest} tokens exceeds the {MaxLength} " +
                                                             "this decoder was made for");
    }

    private void Prefill(IReadOnlyList<int[]> prompts, bool keepAll)
    {
        CheckPrompts(prompts);
        int longest = prompts.Max(p => p.Length);
        BatchSize = prompts.Count;
        // Only the positions from the earliest last token on need logits (all of them for keepAll).
        int rows = keepAll || !KeepsLastLogits
            ? longest : longest - prompts.Min(p => PrefillLogitsIndex(p.Length, longest));
        using var logits = RunPrefill(prompts, longest, rows);
        var all = logits.Span<float>();
        _allLogits = keepAll ? all.ToArray() : null;
        for (int b = 0; b < BatchSize; b++)
        {
            Lengths[b] = prompts[b].Length;
            int row = PrefillLogitsIndex(prompts[b].Length, longest) - (longest - rows);
            all.Slice((b * rows + row) * Model.VocabSize, Model.VocabSize).CopyTo(Logits(b));
        }
    }

    /// <summary>Feeds one token per sequence and computes the next logits.</summary>
    public void Step(ReadOnlySpan<int> tokens) => Step(tokens, default);

    /// <summary>
    /// Feeds one token per sequence; rows where <paramref name="active"/> is false (an empty span means all
    /// active) are computed but not advanced, so an idle slot of a continuous batch stays empty.
    /// </summary>
    public void Step(ReadOnlySpan<int> tokens, ReadOnlySpan<bool> active)
    {
        if (tokens.Length != BatchSize) throw new ArgumentException($"one token per sequence ({BatchSize})");
        for (int b = 0; b < BatchSize; b++)
            if (Lengths[b] >= MaxLength && (active.IsEmpty || active[b]))
                throw new Gpt2OnnxException($"sequence {b} reached the decoder's length of {MaxLength} tokens");
        var ids = StepIds.Span<long>();
        var positions = StepPositions.Span<long>();
        for (int b = 0; b < BatchSize; b++)
        {
            ids[b] = tokens[b];
            positions[b] = Lengths[b];
        }
        RunStep();
        var logits = StepLogits.Span<float>();
        logits[..(BatchSize * Model.VocabSize)].CopyTo(_lastLogits);
        for (int b = 0; b < BatchSize; b++)
            if (active.IsEmpty || active[b]) Lengths[b]++;
    }

    /// <summary>
    /// Makes row i hold the sequence row parents[i] holds now (its cache and length), for every row of the batch:
    /// beam search's reselection. The cache moves within its own memory (host or device), never through managed
    /// arrays. The logits are not moved: the next <see cref="Step"/> replaces them.
    /// </summary>
    public void ReorderRows(ReadOnlySpan<int> parents)
    {
        if (parents.Length != BatchSize) throw new ArgumentException($"one parent per row ({BatchSize})");
        foreach (int parent in parents)
            if (parent < 0 || parent >= BatchSize) throw new ArgumentOutOfRangeException(nameof(parents));
        ReorderCache(parents);
        var lengths = Lengths.AsSpan(0, BatchSize).ToArray();
        for (int row = 0; row < BatchSize; row++) Lengths[row] = lengths[parents[row]];
    }

    /// <summary>
    /// Processes one prompt into <paramref name="rows"/> rows as a fresh batch (beam search's start), each row
    /// with the prompt's cache and logits.
    /// </summary>
    public virtual void PrefillCopies(int[] prompt, int rows) => Prefill(Enumerable.Repeat(prompt, rows).ToArray());

    /// <summary>Moves the cache rows for <see cref="ReorderRows"/>; Lengths still hold the old order.</summary>
    protected abstract void ReorderCache(ReadOnlySpan<int> parents);

    /// <summary>Whether one slot can be refilled while the others decode (continuous batching).</summary>
    public virtual bool CanRefillSlots => false;

    /// <summary>Starts a batch of <paramref name="batch"/> empty slots for <see cref="RefillSlots"/> (continuous
    /// batching).</summary>
    public virtual void StartEmpty(int batch) =>
        throw new NotSupportedException("this graph cannot refill slots: export it with --variant fused");

    /// <summary>
    /// Replaces the sequences in slots <paramref name="firstRow"/> to firstRow + prompts.Count - 1 with
    /// <paramref name="prompts"/> and computes their logits.
    /// </summary>
    public virtual void RefillSlots(int firstRow, IReadOnlyList<int[]> prompts) =>
        throw new NotSupportedException("this graph cannot refill slots: export it with --variant fused");

    /// <summary>
    /// Moves the sequence in slot <paramref name="from"/> (its cache, length and logits) into the free slot
    /// <paramref name="to"/>, so that the busy slots can be gathered at the front and the batch shrunk.
    /// </summary>
    public virtual void MoveSlot(int from, int to) =>
        throw new NotSupportedException("this graph cannot move slots: export it with --variant fused");

    /// <summary>
    /// Steps the first <paramref name="batch"/> slots from now on (up to MaxBatch): a slot beyond the old
    /// batch is empty until it is refilled, and one beyond the new batch is no longer computed.
    /// </summary>
    public virtual void ResizeBatch(int batch) =>
        throw new NotSupportedException("this graph cannot resize its batch: export it with --variant fused");

    /// <summary>Records slot <paramref name="row"/>'s newest logits and length after a refill.</summary>
    protected void SetSlot(int row, ReadOnlySpan<float> logits, int length)
    {
        logits.CopyTo(Logits(row));
        Lengths[row] = length;
    }

    /// <summary>
    /// Runs the prompts; returns logits (B, <paramref name="logitsRows"/>, V) of the padded batch's last
    /// positions (after <see cref="BindLogitsToKeep"/>; all <paramref name="paddedLength"/> when the graph cannot limit
    /// them).
    /// </summary>
    protected abstract NativeTensor RunPrefill(IReadOnlyList<int[]> prompts, int paddedLength, int logitsRows);

    /// <summary>Where a prompt of <paramref name="length"/> has its last token in the padded batch.</summary>
    protected abstract int PrefillLogitsIndex(int length, int paddedLength);

    /// <summary>Runs one step; StepIds and StepPositions are filled, Lengths not yet advanced.</summary>
    protected abstract void RunStep();

    public virtual void Dispose()
    {
        Binding.Dispose();
        StepLogits.Dispose();
        StepIds.Dispose();
        StepPositions.Dispose();
        _logitsToKeep.Dispose();
    }
}
