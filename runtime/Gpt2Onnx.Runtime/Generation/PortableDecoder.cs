using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Drives the portable graph. Prompts are left-padded (attention_mask 0, position ids counted from the
/// first real token). The graph concatenates past and new keys into its present, so each layer keeps two
/// preallocated buffers and alternates: the present written into one is read back as the next step's past
/// from the same memory, re-viewed with its new length. No cache data passes through managed memory.
/// </summary>
internal sealed unsafe class PortableDecoder : Decoder
{
    private static readonly Utf8Name MaskName = new(GraphNames.AttentionMask);
    private readonly NativeTensor[][] _keys;   // [layer][2] buffers
    private readonly NativeTensor[][] _values;
    private readonly NativeTensor _mask;       // (B, T), rewritten each step
    private readonly long[] _maskRows;      // (B, MaxLength): each row's mask so far
    private int _total;                     // padded length of every row in the cache
    private int _current;                   // which buffer of each pair holds the cache

    public PortableDecoder(LanguageModel model, int maxBatch, int maxLength) : base(model, maxBatch, maxLength)
    {
        long bytes = (long)maxBatch * model.Heads * maxLength * model.HeadSize * model.CacheType.SizeOf();
        NativeTensor Buffer() => NativeTensor.ForCache(model.Session.Device, model.CacheType,
                                                       [maxBatch, model.Heads, 0, model.HeadSize], bytes);
        _keys = Enumerable.Range(0, model.Layers).Select(_ => new[] { Buffer(), Buffer() }).ToArray();
        _values = Enumerable.Range(0, model.Layers).Select(_ => new[] { Buffer(), Buffer() }).ToArray();
        _mask = NativeTensor.OnHostMemory(TensorElementType.Int64, [maxBatch, 1],
                                          ((long)maxBatch * maxLength * sizeof(long)));
        _maskRows = new long[maxBatch * maxLength];
        _promptLengths = new int[maxBatch];
    }

    protected override int PrefillLogitsIndex(int length, int paddedLength) => paddedLength - 1;

    private int _paddedPrompt;
    private readonly int[] _promptLengths;

    /// <summary>Left padding takes room: a shorter prompt's row ends when the padded batch reaches the
    /// maximum.</summary>
    public override int Capacity(int row) => MaxLength - (_paddedPrompt - _promptLengths[row]);

    protected override NativeTensor RunPrefill(IReadOnlyList<int[]> prompts, int paddedLength, int logitsRows)
    {
        int batch = prompts.Count;
        _paddedPrompt = paddedLength;
        for (int b = 0; b < batch; b++) _promptLengths[b] = prompts[b].Length;
        var ids = new long[batch * paddedLength];
        var positions = new long[batch * paddedLength];
        Array.Clear(_maskRows);
        for (int b = 0; b < batch; b++)
        {
            int pad = paddedLength - prompts[b].Length;
            for (int t = 0; t < paddedLength; t++)
            {
                bool real = t >= pad;
                ids[b * paddedLength + t] = real ? prompts[b][t - pad] : Model.EndOfTextId;
                positions[b * paddedLength + t] = real ? t - pad : 0;
                _maskRows[b * MaxLength + t] = real ? 1 : 0;
            }
        }
        _total = 0;
        using var idTensor = NativeTensor.From<long>(ids, batch, paddedLength);
        using var positionTensor = NativeTensor.From<long>(positions, batch, paddedLength);
        var logits = NativeTensor.OnHostMemory(TensorElementType.Float, [batch, logitsRows, Model.VocabSize],
                                               ((long)batch * logitsRows * Model.VocabSize * sizeof(float)));
        BindLogitsToKeep(logitsRows);
        Run(idTensor, positionTensor, logits, paddedLength);
        // The step tensors view this batch from now on: Step writes the next tokens into them before it runs,
        // and a decoder reused for a larger batch than its last must not keep the smaller view.
        StepIds.Reshape([batch, 1]);
        StepPositions.Reshape([batch, 1]);
        StepLogits.Reshape([batch, 1, Model.VocabSize]);
        return logits;
    }

    protected override void RunStep()
    {
        for (int b = 0; b < BatchSize; b++) _maskRows[b * MaxLength + _total] = 1;
        Run(StepIds, StepPositions, StepLogits, 1);
    }

    /// <summary>Binds everything for a run of <paramref name="newTokens"/> tokens per row and runs it.</summary>
    private void Run(NativeTensor ids, NativeTensor positions, NativeTensor logits, int newTokens)
    {
        int batch = BatchSize, past = _total, total = _total + newTokens;
        _mask.Reshape([batch, total]);
        var mask = _mask.Span<long>();
        for (int b = 0; b < batch; b++) _maskRows.AsSpan(b * MaxLength, total).CopyTo(mask.Slice(b * total, total));

        Binding.BindInput(InputIdsName, ids);
        Binding.BindInput(PositionIdsName, positions);
        Binding.BindInput(MaskName, _mask);
        Binding.BindOutput(LogitsName, logits);
        int next = 1 - _current;
        for (int i = 0; i < Model.Layers; i++)
        {
            _keys[i][_current].Reshape([batch, Model.Heads, past, Model.HeadSize]);
            _values[i][_current].Reshape([batch, Model.Heads, past, Model.HeadSize]);
            _keys[i][next].Reshape([batch, Model.Heads, total, Model.HeadSize]);
            _values[i][next].Reshape([batch, Model.Heads, total, Model.HeadSize]);
            Binding.BindInput(PastKeyNames[i], _keys[i][_current]);
            Binding.BindInput(PastValueNames[i], _values[i][_current]);
            Binding.BindOutput(PresentKeyNames[i], _keys[i][next]);
            Binding.BindOutput(PresentValueNames[i], _values[i][next]);
        }
        RunBinding();
        _current = next;
        _total = total;
    }

    /// <summary>
    /// Gathers cache rows from the pair's current buffer into the other one (free between runs), which then
    /// becomes current; the mask rows and prompt lengths follow their rows.
    /// </summary>
    protected override void ReorderCache(ReadOnlySpan<int> parents)
    {
        long rowBytes = (long)Model.Heads * _total * Model.HeadSize * Model.CacheType.SizeOf();
        int next = 1 - _current;
        for (int i = 0; i < Model.Layers; i++)
            foreach (var pair in new[] { _keys[i], _values[i] })
            {
                var (from, to) = (pair[_current], pair[next]);
                to.Reshape(from.Shape);
                for (int row = 0; row < BatchSize; row++)
                {
                    byte* source = (byte*)from.Data + parents[row] * rowBytes, target = (byte*)to.Data + row * rowBytes;
                    if (from.OnHost) System.Buffer.MemoryCopy(source, target, rowBytes, rowBytes);
                    else DeviceCopy.Copy(source, from.Memory, target, to.Memory, rowBytes);
                }
            }
        _current = next;
        var masks = _maskRows.AsSpan(0, BatchSize * MaxLength).ToArray();
        var prompts = _promptLengths.AsSpan(0, BatchSize).ToArray();
        for (int row = 0; row < BatchSize; row++)
        {
            masks.AsSpan(parents[row] * MaxLength, MaxLength).CopyTo(_maskRows.AsSpan(row * MaxLength, MaxLength));
            _promptLengths[row] = prompts[parents[row]];
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        foreach (var pair in _keys.Concat(_values))
            foreach (var buffer in pair) buffer.Dispose();
        _mask.Dispose();
    }
}
