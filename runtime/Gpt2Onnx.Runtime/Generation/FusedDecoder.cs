using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Drives the fused graph. Each layer's past and present are one buffer of the maximum length, bound once
/// as both input and output: GroupQueryAttention writes each new key and value in place, right after the
/// row's own last one (the graph counts each row's length from attention_mask), so nothing is copied per
/// step. Prompts are right-padded: each sequence starts at position 0, and its mask row is ones for its
/// tokens, then zeros.
/// </summary>
internal sealed unsafe class FusedDecoder : Decoder
{
    private static readonly OrtName MaskName = new(GraphNames.AttentionMask);
    private readonly OrtTensor[] _keys, _values;  // (B, nh, MaxLength, hs)
    private readonly OrtTensor _mask;              // (B, T) int64, rewritten each run
    private readonly int[] _rowLengths;            // each row's tokens in the cache after the run

    public FusedDecoder(LanguageModel model, int maxBatch, int maxLength) : base(model, maxBatch, maxLength)
    {
        long elements = (long)maxBatch * model.Heads * maxLength * model.HeadSize;
        OrtTensor Buffer()
        {
            nuint bytes = (nuint)(elements * model.CacheType.SizeOf());
            var buffer = OrtTensor.CreateOwned(model.CacheType, [maxBatch, model.Heads, maxLength, model.HeadSize], bytes);
            System.Runtime.InteropServices.NativeMemory.Clear(buffer.Buffer, bytes);
            return buffer;
        }
        _keys = Enumerable.Range(0, model.Layers).Select(_ => Buffer()).ToArray();
        _values = Enumerable.Range(0, model.Layers).Select(_ => Buffer()).ToArray();
        _mask = OrtTensor.CreateOwned(TensorElementType.Int64, [maxBatch, 1], (nuint)((long)maxBatch * maxLength * sizeof(long)));
        _rowLengths = new int[maxBatch];
    }

    /// <summary>
    /// Rewrites <paramref name="mask"/> as (<paramref name="batch"/>, the longest of <paramref name="lengths"/>):
    /// row b is lengths[b] ones, then zeros. Allocates no managed memory.
    /// </summary>
    private static void WriteMask(OrtTensor mask, int batch, ReadOnlySpan<int> lengths)
    {
        int total = 0;
        for (int b = 0; b < batch; b++) total = Math.Max(total, lengths[b]);
        mask.Reshape([batch, total]);
        var data = mask.GetData<long>();
        for (int b = 0; b < batch; b++)
        {
            data.Slice(b * total, lengths[b]).Fill(1);
            data.Slice(b * total + lengths[b], total - lengths[b]).Clear();
        }
    }

    /// <summary>How far in length (±) prompts prefilled together may be from the first of their group.</summary>
    internal const int GroupLengthSpread = 2;
    /// <summary>The most prompts one run prefills together.</summary>
    internal const int GroupLimit = 16;

    /// <summary>
    /// Prefills consecutive prompts of similar length together (each group one run into its rows of the
    /// cache): right padding makes a run compute every row up to its longest prompt, and the logits from its
    /// shortest prompt's last token on, so one run for prompts of very different lengths wastes more than
    /// the extra runs cost.
    /// </summary>
    public override void Prefill(IReadOnlyList<int[]> prompts)
    {
        CheckPrompts(prompts);
        StartEmpty(prompts.Count);
        for (int first = 0, end; first < prompts.Count; first = end)
        {
            for (end = first + 1; end < prompts.Count && end - first < GroupLimit; end++)
                if (Math.Abs(prompts[end].Length - prompts[first].Length) > GroupLengthSpread) break;
            RefillSlots(first, prompts.Skip(first).Take(end - first).ToList());
        }
    }

    protected override int PrefillLogitsIndex(int length, int paddedLength) => length - 1;

    protected override OrtTensor RunPrefill(IReadOnlyList<int[]> prompts, int paddedLength, int logitsRows)
    {
        int batch = prompts.Count;
        RebindCache(batch);
        for (int b = 0; b < batch; b++) _rowLengths[b] = prompts[b].Length;
        WriteMask(_mask, batch, _rowLengths);
        var (ids, positions) = RightPadded(prompts, paddedLength);
        using var idTensor = ids;
        using var positionTensor = positions;
        var logits = OrtTensor.CreateOwned(TensorElementType.Float, [batch, logitsRows, Model.VocabSize], (nuint)((long)batch * logitsRows * Model.VocabSize * sizeof(float)));
        BindLogitsToKeep(logitsRows);
        Bind(idTensor, positionTensor, logits);
        RunBinding();
        StepIds.Reshape([batch, 1]);
        StepPositions.Reshape([batch, 1]);
        StepLogits.Reshape([batch, 1, Model.VocabSize]);
        Bind(StepIds, StepPositions, StepLogits);
        return logits;
    }

    protected override void RunStep()
    {
        for (int b = 0; b < BatchSize; b++) _rowLengths[b] = Lengths[b] + 1; // each row's length after this token
        WriteMask(_mask, BatchSize, _rowLengths);
        Binding.BindInput(MaskName, _mask); // re-viewed with its new length; every other tensor is bound already
        RunBinding();
    }

    public override bool CanRefillSlots => true;

    public override void StartEmpty(int batch)
    {
        Array.Clear(Lengths);
        Resize(batch);
    }

    public override void ResizeBatch(int batch) => Resize(batch);

    /// <summary>Steps <paramref name="batch"/> slots from now on: the tensors view the front of their buffers.</summary>
    private void Resize(int batch)
    {
        if (batch < 1 || batch > MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch));
        BatchSize = batch;
        RebindCache(batch);
        StepIds.Reshape([batch, 1]);
        StepPositions.Reshape([batch, 1]);
        StepLogits.Reshape([batch, 1, Model.VocabSize]);
        Bind(StepIds, StepPositions, StepLogits);
    }

    public override void MoveSlot(int from, int to)
    {
        if (from == to) return;
        long rowBytes = (long)Model.Heads * MaxLength * Model.HeadSize * Model.CacheType.SizeOf();
        // Only the positions in use are copied: each head's first Length(from) keys and values.
        long headBytes = (long)MaxLength * Model.HeadSize * Model.CacheType.SizeOf();
        long usedBytes = (long)Lengths[from] * Model.HeadSize * Model.CacheType.SizeOf();
        foreach (var buffer in _keys.Concat(_values))
        {
            byte* source = (byte*)buffer.Buffer + from * rowBytes, target = (byte*)buffer.Buffer + to * rowBytes;
            for (int h = 0; h < Model.Heads; h++)
                Buffer.MemoryCopy(source + h * headBytes, target + h * headBytes, headBytes, usedBytes);
        }
        SetSlot(to, Logits(from), Lengths[from]);
    }

    /// <summary>
    /// Runs <paramref name="prompts"/> as one right-padded batch with each layer's cache viewed at rows
    /// <paramref name="firstRow"/> onwards of the shared buffer (rows are contiguous), so those slots are
    /// refilled in place while the others keep theirs. One run for several prompts reads the weights once.
    /// </summary>
    public override void RefillSlots(int firstRow, IReadOnlyList<int[]> prompts)
    {
        int count = prompts.Count;
        if (count == 0 || firstRow < 0 || firstRow + count > BatchSize) throw new ArgumentOutOfRangeException(nameof(firstRow), $"rows {firstRow} to {firstRow + count - 1} of {BatchSize}");
        if (prompts.Any(p => p.Length == 0 || p.Length > MaxLength)) throw new ArgumentException($"prompts of 1 to {MaxLength} tokens");
        int longest = prompts.Max(p => p.Length), shortest = prompts.Min(p => p.Length);
        long rowBytes = (long)Model.Heads * MaxLength * Model.HeadSize * Model.CacheType.SizeOf();
        var lengths = prompts.Select(p => p.Length).ToArray();
        // Logits from the earliest last token on (every position where the graph cannot limit them).
        int rows = KeepsLastLogits ? longest - shortest + 1 : longest;
        var views = new List<OrtTensor>();
        using var binding = Model.Session.CreateBinding();
        var (idTensor, positionTensor) = RightPadded(prompts, longest);
        using var ids = idTensor;
        using var positions = positionTensor;
        using var mask = OrtTensor.CreateOwned(TensorElementType.Int64, [count, longest], (nuint)((long)count * longest * sizeof(long)));
        WriteMask(mask, count, lengths);
        using var keep = OrtTensor.From<long>([rows]);
        using var logits = OrtTensor.CreateOwned(TensorElementType.Float, [count, rows, Model.VocabSize], (nuint)((long)count * rows * Model.VocabSize * sizeof(float)));
        try
        {
            var keys = new OrtTensor[Model.Layers];
            var values = new OrtTensor[Model.Layers];
            OrtTensor View(OrtTensor buffer)
            {
                var view = OrtTensor.View((byte*)buffer.Buffer + firstRow * rowBytes, (nuint)(count * rowBytes), Model.CacheType, [count, Model.Heads, MaxLength, Model.HeadSize]);
                views.Add(view);
                return view;
            }
            for (int i = 0; i < Model.Layers; i++)
            {
                keys[i] = View(_keys[i]);
                values[i] = View(_values[i]);
            }
            Bind(binding, ids, positions, mask, logits, keys, values);
            if (KeepsLastLogits) binding.BindInput(LogitsToKeepName, keep);
            binding.Run();
            var all = logits.GetData<float>();
            for (int b = 0; b < count; b++)
            {
                int row = lengths[b] - 1 - (longest - rows);
                SetSlot(firstRow + b, all.Slice((b * rows + row) * Model.VocabSize, Model.VocabSize), lengths[b]);
            }
        }
        finally
        {
            foreach (var view in views) view.Dispose();
        }
    }

    /// <summary>
    /// input_ids and position_ids (B, <paramref name="paddedLength"/>) for right-padded prompts: each starts at
    /// position 0; the padding is end-of-text tokens, which the mask keeps out of every real token's attention.
    /// </summary>
    private (OrtTensor Ids, OrtTensor Positions) RightPadded(IReadOnlyList<int[]> prompts, int paddedLength)
    {
        var ids = new long[prompts.Count * paddedLength];
        var positions = new long[prompts.Count * paddedLength];
        for (int b = 0; b < prompts.Count; b++)
            for (int t = 0; t < paddedLength; t++)
            {
                ids[b * paddedLength + t] = t < prompts[b].Length ? prompts[b][t] : Model.EndOfTextId;
                positions[b * paddedLength + t] = t;
            }
        return (OrtTensor.From<long>(ids, prompts.Count, paddedLength), OrtTensor.From<long>(positions, prompts.Count, paddedLength));
    }

    private void Bind(OrtTensor ids, OrtTensor positions, OrtTensor logits) =>
        Bind(Binding, ids, positions, _mask, logits, _keys, _values);

    /// <summary>Binds every input and output; each layer's cache is bound as both its past and its present.</summary>
    private void Bind(OrtIoBinding binding, OrtTensor ids, OrtTensor positions, OrtTensor mask, OrtTensor logits, OrtTensor[] keys, OrtTensor[] values)
    {
        binding.BindInput(InputIdsName, ids);
        binding.BindInput(PositionIdsName, positions);
        binding.BindInput(MaskName, mask);
        binding.BindOutput(LogitsName, logits);
        for (int i = 0; i < Model.Layers; i++)
        {
            binding.BindInput(PastKeyNames[i], keys[i]);
            binding.BindInput(PastValueNames[i], values[i]);
            binding.BindOutput(PresentKeyNames[i], keys[i]);
            binding.BindOutput(PresentValueNames[i], values[i]);
        }
    }

    /// <summary>A smaller batch views the front of each buffer; the graph needs the batch dimension exact.</summary>
    private void RebindCache(int batch)
    {
        foreach (var t in _keys.Concat(_values)) t.Reshape([batch, Model.Heads, MaxLength, Model.HeadSize]);
    }

    public override void Dispose()
    {
        base.Dispose();
        foreach (var t in _keys.Concat(_values)) t.Dispose();
        _mask.Dispose();
    }
}
