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

    protected override int PrefillLogitsIndex(int length, int paddedLength) => length - 1;

    protected override OrtTensor RunPrefill(IReadOnlyList<int[]> prompts, int paddedLength, int logitsRows)
    {
        int batch = prompts.Count;
        RebindCache(batch);
        var ids = new long[batch * paddedLength];
        var positions = new long[batch * paddedLength];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < paddedLength; t++)
            {
                ids[b * paddedLength + t] = t < prompts[b].Length ? prompts[b][t] : Model.EndOfTextId;
                positions[b * paddedLength + t] = Math.Min(t, Model.ContextLength - 1);
            }
            _rowLengths[b] = prompts[b].Length;
        }
        WriteMask(_mask, batch, _rowLengths);
        using var idTensor = OrtTensor.From<long>(ids, batch, paddedLength);
        using var positionTensor = OrtTensor.From<long>(positions, batch, paddedLength);
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

    public override void ShrinkBatch(int batch)
    {
        if (batch > BatchSize) throw new ArgumentOutOfRangeException(nameof(batch), "a batch can only shrink");
        Resize(batch);
    }

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
    /// Runs <paramref name="prompt"/> alone, with each layer's cache viewed at row <paramref name="row"/>'s part
    /// of the shared buffer (rows are contiguous), so the slot is refilled in place while the others keep theirs.
    /// </summary>
    public override void RefillSlot(int row, int[] prompt)
    {
        if (prompt.Length == 0 || prompt.Length >= MaxLength) throw new ArgumentException($"a prompt of 1 to {MaxLength - 1} tokens");
        long rowElements = (long)Model.Heads * MaxLength * Model.HeadSize;
        long rowBytes = rowElements * Model.CacheType.SizeOf();
        var views = new List<OrtTensor>();
        using var binding = Model.Session.CreateBinding();
        using var ids = OrtTensor.From<long>(prompt.Select(t => (long)t).ToArray(), 1, prompt.Length);
        using var positions = OrtTensor.From<long>(Enumerable.Range(0, prompt.Length).Select(p => (long)p).ToArray(), 1, prompt.Length);
        using var mask = OrtTensor.From<long>(Enumerable.Repeat(1L, prompt.Length).ToArray(), 1, prompt.Length);
        // Only the last position's logits are needed (where the graph can limit them).
        int rows = KeepsLastLogits ? 1 : prompt.Length;
        using var keep = OrtTensor.From<long>([rows]);
        using var logits = OrtTensor.CreateOwned(TensorElementType.Float, [1, rows, Model.VocabSize], (nuint)((long)rows * Model.VocabSize * sizeof(float)));
        try
        {
            var keys = new OrtTensor[Model.Layers];
            var values = new OrtTensor[Model.Layers];
            for (int i = 0; i < Model.Layers; i++)
            {
                keys[i] = OrtTensor.View((byte*)_keys[i].Buffer + row * rowBytes, (nuint)rowBytes, Model.CacheType, [1, Model.Heads, MaxLength, Model.HeadSize]);
                views.Add(keys[i]);
                values[i] = OrtTensor.View((byte*)_values[i].Buffer + row * rowBytes, (nuint)rowBytes, Model.CacheType, [1, Model.Heads, MaxLength, Model.HeadSize]);
                views.Add(values[i]);
            }
            Bind(binding, ids, positions, mask, logits, keys, values);
            if (KeepsLastLogits) binding.BindInput(LogitsToKeepName, keep);
            binding.Run();
            SetSlot(row, logits.GetData<float>().Slice((rows - 1) * Model.VocabSize, Model.VocabSize), prompt.Length);
        }
        finally
        {
            foreach (var view in views) view.Dispose();
        }
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
