using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Drives the fused graph. Each layer's past and present are one buffer of the maximum length, bound once
/// as both input and output: GroupQueryAttention writes each new key and value in place, right after the
/// row's own last one (the graph counts each row's length from attention_mask), so nothing is copied per
/// step. Prompts are right-padded: each sequence starts at position 0, and its mask row is ones for its
/// tokens, then zeros. A step's mask is bound at the full length once, so a step only sets one more 1 per row
/// and rebinds nothing: on the CPU it allocates no managed memory. On CUDA the cache stays in device memory;
/// ids, positions and the mask are rebound each step, which is when ONNX Runtime copies them to the device.
/// </summary>
internal sealed unsafe class FusedDecoder : Decoder
{
    private static readonly Utf8Name MaskName = new(GraphNames.AttentionMask);
    private readonly NativeTensor[] _keys, _values;  // (B, nh, MaxLength, hs)
    private readonly NativeTensor _mask;  // (B, MaxLength) int64: row b is Lengths[b] ones (+1 in a step), then zeros

    public FusedDecoder(LanguageModel model, int maxBatch, int maxLength) : base(model, maxBatch, maxLength)
    {
        long bytes = (long)maxBatch * model.Heads * maxLength * model.HeadSize * model.CacheType.SizeOf();
        NativeTensor Buffer() => NativeTensor.ForCache(model.Session.Device, model.CacheType, CacheShape(maxBatch),
                                                       bytes);
        _keys = Enumerable.Range(0, model.Layers).Select(_ => Buffer()).ToArray();
        _values = Enumerable.Range(0, model.Layers).Select(_ => Buffer()).ToArray();
        _mask = NativeTensor.OnHostMemory(TensorElementType.Int64, [maxBatch, maxLength],
                                          (long)maxBatch * maxLength * sizeof(long));
        _mask.Span<long>().Clear();
    }

    private long[] CacheShape(int batch) => [batch, Model.Heads, MaxLength, Model.HeadSize];

    /// <summary>
    /// Writes a (<paramref name="batch"/>, width) mask where row b is lengths[b] ones, then zeros. Allocates no
    /// managed memory.
    /// </summary>
    private static void WriteMask(Span<long> mask, int batch, int width, ReadOnlySpan<int> lengths)
    {
        for (int b = 0; b < batch; b++)
        {
            mask.Slice(b * width, lengths[b]).Fill(1);
            mask.Slice(b * width + lengths[b], width - lengths[b]).Clear();
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

    /// <summary>
    /// Runs the prompt once, into row 0, and copies its cache (positions in use) and logits to the other rows.
    /// </summary>
    public override void PrefillCopies(int[] prompt, int rows)
    {
        CheckPrompts([prompt]);
        StartEmpty(rows);
        RefillSlots(0, [prompt]);
        ReorderRows(new int[rows]);
        for (int row = 1; row < rows; row++) Logits(0).CopyTo(Logits(row));
    }

    protected override int PrefillLogitsIndex(int length, int paddedLength) => length - 1;

    /// <summary>Only reached through <see cref="Decoder.PrefillAll"/>: one prompt into slot 0, every position's
    /// logits.</summary>
    protected override NativeTensor RunPrefill(IReadOnlyList<int[]> prompts, int paddedLength, int logitsRows)
    {
        StartEmpty(prompts.Count);
        var logits = NativeTensor.OnHostMemory(TensorElementType.Float, [prompts.Count, logitsRows, Model.VocabSize],
                                               (long)prompts.Count * logitsRows * Model.VocabSize * sizeof(float));
        try
        {
            RunPrompts(0, prompts, logitsRows, logits);
            for (int b = 0; b < prompts.Count; b++)
            {
                Lengths[b] = prompts[b].Length;
                WriteMaskRow(b);
            }
        }
        catch
        {
            logits.Dispose();
            throw;
        }
        return logits;
    }

    protected override void RunStep()
    {
        var mask = _mask.Span<long>();
        for (int b = 0; b < BatchSize; b++) mask[b * MaxLength + Lengths[b]] = 1; // the row's length after this token
        if (Model.Session.Device.IsCuda)
        {
            Binding.BindInput(InputIdsName, StepIds);
            Binding.BindInput(PositionIdsName, StepPositions);
            Binding.BindInput(MaskName, _mask);
        }
        RunBinding();
    }

    public override bool CanRefillSlots => true;

    public override void StartEmpty(int batch)
    {
        Array.Clear(Lengths);
        _mask.Reshape([MaxBatch, MaxLength]);
        _mask.Span<long>().Clear();
        Resize(batch);
    }

    public override void ResizeBatch(int batch) => Resize(batch);

    /// <summary>Steps <paramref name="batch"/> slots from now on: the tensors view the front of their buffers, bound
    /// once.</summary>
    private void Resize(int batch)
    {
        if (batch < 1 || batch > MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch));
        BatchSize = batch;
        foreach (var t in _keys.Concat(_values)) t.Reshape(CacheShape(batch));
        StepIds.Reshape([batch, 1]);
        StepPositions.Reshape([batch, 1]);
        StepLogits.Reshape([batch, 1, Model.VocabSize]);
        _mask.Reshape([batch, MaxLength]);
        Bind(Binding, StepIds, StepPositions, _mask, StepLogits, _keys, _values);
        BindLogitsToKeep(1);
    }

    public override void MoveSlot(int from, int to)
    {
        if (from == to) return;
        long rowBytes = (long)Model.Heads * MaxLength * Model.HeadSize * Model.CacheType.SizeOf();
        // Only the positions in use are copied: each head's first Length(from) keys and values.
        long headBytes = (long)MaxLength * Model.HeadSize * Model.CacheType.SizeOf();
        long usedBytes = (long)Lengths[from] * Model.HeadSize * Model.CacheType.SizeOf();
        foreach (var buffer in _keys.Concat(_values))
            for (int h = 0; h < Model.Heads; h++)
                CopyWithin(buffer, from * rowBytes + h * headBytes, to * rowBytes + h * headBytes, usedBytes);
        SetSlot(to, Logits(from), Lengths[from]);
        WriteMaskRow(to);
    }

    private static void CopyWithin(NativeTensor buffer, long fromOffset, long toOffset, long bytes) =>
        Copy(buffer, fromOffset, buffer, toOffset, bytes);

    private static void Copy(NativeTensor from, long fromOffset, NativeTensor to, long toOffset, long bytes)
    {
        byte* source = (byte*)from.Data + fromOffset, target = (byte*)to.Data + toOffset;
        if (from.OnHost) System.Buffer.MemoryCopy(source, target, bytes, bytes);
        else DeviceCopy.Copy(source, from.Memory, target, to.Memory, bytes);
    }

    private NativeTensor? _spareRow; // (1, nh, MaxLength, hs): where a cycle of reordered rows parks one row

    /// <summary>
    /// Gathers cache rows in place, in the order <see cref="RowGather"/> plans (a cycle through one spare row),
    /// copying only each head's positions in use.
    /// </summary>
    protected override void ReorderCache(ReadOnlySpan<int> parents)
    {
        var moves = RowGather.Moves(parents);
        if (moves.Count == 0) return;
        long element = Model.CacheType.SizeOf(), headBytes = (long)MaxLength * Model.HeadSize * element;
        long rowBytes = Model.Heads * headBytes;
        _spareRow ??= NativeTensor.ForCache(Model.Session.Device, Model.CacheType, CacheShape(1), rowBytes);
        // Positions in use per move: the spare row holds the length of the row parked in it.
        var used = new long[moves.Count];
        for (int m = 0, parked = 0; m < moves.Count; m++)
        {
            var (from, to) = moves[m];
            int length = from == RowGather.Spare ? parked : Lengths[from];
            if (to == RowGather.Spare) parked = length;
            used[m] = length * Model.HeadSize * element;
        }
        // One buffer at a time, every move: the spare row serves one buffer's cycle before the next buffer's.
        foreach (var buffer in _keys.Concat(_values))
            for (int m = 0; m < moves.Count; m++)
            {
                var (from, to) = moves[m];
                var (source, sourceRow) = from == RowGather.Spare ? (_spareRow, 0) : (buffer, from);
                var (target, targetRow) = to == RowGather.Spare ? (_spareRow, 0) : (buffer, to);
                for (int h = 0; h < Model.Heads; h++)
                    Copy(source, sourceRow * rowBytes + h * headBytes,
                         target, targetRow * rowBytes + h * headBytes, used[m]);
            }
        for (int row = 0; row < BatchSize; row++) WriteMaskRow(row, Lengths[parents[row]]);
    }

    /// <summary>Slot <paramref name="row"/>'s step mask: its length in ones, then zeros.</summary>
    private void WriteMaskRow(int row) => WriteMaskRow(row, Lengths[row]);

    private void WriteMaskRow(int row, int length)
    {
        var mask = new Span<long>((long*)_mask.Data + (long)row * MaxLength, MaxLength);
        mask[..length].Fill(1);
        mask[length..].Clear();
    }

    /// <summary>
    /// Runs <paramref name="prompts"/> as one right-padded batch with each layer's cache viewed at rows
    /// <paramref name="firstRow"/> onwards of the shared buffer (rows are contiguous), so those slots are
    /// refilled in place while the others keep theirs. One run for several prompts reads the weights once.
    /// </summary>
    public override void RefillSlots(int firstRow, IReadOnlyList<int[]> prompts)
    {
        int count = prompts.Count;
        if (count == 0 || firstRow < 0 || firstRow + count > BatchSize)
            throw new ArgumentOutOfRangeException(nameof(firstRow),
                                                  $"rows {firstRow} to {firstRow + count - 1} of {BatchSize}");
        if (prompts.Any(p => p.Length == 0 || p.Length > MaxLength))
            throw new ArgumentException($"prompts of 1 to {MaxLength} tokens");
        int longest = prompts.Max(p => p.Length), shortest = prompts.Min(p => p.Length);
        // Logits from the earliest last token on (every position where the graph cannot limit them).
        int rows = KeepsLastLogits ? longest - shortest + 1 : longest;
        using var logits = NativeTensor.OnHostMemory(TensorElementType.Float, [count, rows, Model.VocabSize],
                                                     (long)count * rows * Model.VocabSize * sizeof(float));
        RunPrompts(firstRow, prompts, rows, logits);
        var all = logits.Span<float>();
        for (int b = 0; b < count; b++)
        {
            int row = prompts[b].Length - 1 - (longest - rows);
            SetSlot(firstRow + b, all.Slice((b * rows + row) * Model.VocabSize, Model.VocabSize), prompts[b].Length);
            WriteMaskRow(firstRow + b);
        }
    }

    /// <summary>Runs right-padded prompts into the cache rows from <paramref name="firstRow"/> on, with a binding of
    /// their own.</summary>
    private void RunPrompts(int firstRow, IReadOnlyList<int[]> prompts, int logitsRows, NativeTensor logits)
    {
        int count = prompts.Count, longest = prompts.Max(p => p.Length);
        long rowBytes = (long)Model.Heads * MaxLength * Model.HeadSize * Model.CacheType.SizeOf();
        var views = new List<NativeTensor>();
        using var binding = Model.Session.CreateBinding();
        var (idTensor, positionTensor) = RightPadded(prompts, longest);
        using var ids = idTensor;
        using var positions = positionTensor;
        using var mask = NativeTensor.OnHostMemory(TensorElementType.Int64, [count, longest],
                                                   (long)count * longest * sizeof(long));
        WriteMask(mask.Span<long>(), count, longest, prompts.Select(p => p.Length).ToArray());
        using var keep = NativeTensor.From<long>([logitsRows]);
        try
        {
            NativeTensor View(NativeTensor buffer)
            {
                var view = NativeTensor.View(buffer, firstRow * rowBytes, count * rowBytes, CacheShape(count));
                views.Add(view);
                return view;
            }
            var keys = _keys.Select(View).ToArray();
            var values = _values.Select(View).ToArray();
            Bind(binding, ids, positions, mask, logits, keys, values);
            if (KeepsLastLogits) binding.BindInput(LogitsToKeepName, keep);
            Model.Session.Run(binding);
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
    private (NativeTensor Ids, NativeTensor Positions) RightPadded(IReadOnlyList<int[]> prompts, int paddedLength)
    {
        var ids = new long[prompts.Count * paddedLength];
        var positions = new long[prompts.Count * paddedLength];
        for (int b = 0; b < prompts.Count; b++)
            for (int t = 0; t < paddedLength; t++)
            {
                ids[b * paddedLength + t] = t < prompts[b].Length ? prompts[b][t] : Model.EndOfTextId;
                positions[b * paddedLength + t] = t;
            }
        return (NativeTensor.From<long>(ids, prompts.Count, paddedLength),
                NativeTensor.From<long>(positions, prompts.Count, paddedLength));
    }

    /// <summary>Binds every input and output; each layer's cache is bound as both its past and its present.</summary>
    private void Bind(OrtIoBinding binding, NativeTensor ids, NativeTensor positions, NativeTensor mask,
                      NativeTensor logits,
                      NativeTensor[] keys, NativeTensor[] values)
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

    public override void Dispose()
    {
        base.Dispose();
        foreach (var t in _keys.Concat(_values)) t.Dispose();
        _spareRow?.Dispose();
        _mask.Dispose();
    }
}
