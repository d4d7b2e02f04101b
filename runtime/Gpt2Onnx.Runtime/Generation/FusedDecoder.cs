using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Drives the fused graph. Each layer's past and present are one buffer of the maximum length, bound once
/// as both input and output: GroupQueryAttention writes each new key and value in place, at the position
/// seqlens_k gives, so nothing is copied per step. Prompts are right-padded (each sequence starts at
/// position 0); a sequence's new token is written right after its own last one.
/// </summary>
internal sealed unsafe class FusedDecoder : Decoder
{
    private static readonly OrtName SeqLensName = new("seqlens_k");
    private static readonly OrtName TotalName = new("total_sequence_length");
    private readonly OrtTensor[] _keys, _values;  // (B, nh, MaxLength, hs)
    private readonly OrtTensor _seqLens;           // (B) int32
    private readonly OrtTensor _total;             // () int32

    public FusedDecoder(LanguageModel model, int maxBatch, int maxLength) : base(model, maxBatch, maxLength)
    {
        long elements = (long)maxBatch * model.Heads * maxLength * model.HeadSize;
        OrtTensor Buffer()
        {
            var buffer = OrtTensor.CreateOwned(TensorElementType.Float, [maxBatch, model.Heads, maxLength, model.HeadSize], (nuint)(elements * sizeof(float)));
            buffer.GetData<float>().Clear();
            return buffer;
        }
        _keys = Enumerable.Range(0, model.Layers).Select(_ => Buffer()).ToArray();
        _values = Enumerable.Range(0, model.Layers).Select(_ => Buffer()).ToArray();
        _seqLens = OrtTensor.CreateOwned(TensorElementType.Int32, [maxBatch], (nuint)(maxBatch * sizeof(int)));
        _total = OrtTensor.CreateOwned(TensorElementType.Int32, [], sizeof(int));
    }

    protected override int PrefillLogitsIndex(int length, int paddedLength) => length - 1;

    protected override OrtTensor RunPrefill(IReadOnlyList<int[]> prompts, int paddedLength)
    {
        int batch = prompts.Count;
        RebindCache(batch);
        var ids = new long[batch * paddedLength];
        var positions = new long[batch * paddedLength];
        _seqLens.Reshape([batch]);
        var seqLens = _seqLens.GetData<int>();
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < paddedLength; t++)
            {
                ids[b * paddedLength + t] = t < prompts[b].Length ? prompts[b][t] : Model.EndOfTextId;
                positions[b * paddedLength + t] = Math.Min(t, Model.ContextLength - 1);
            }
            seqLens[b] = prompts[b].Length - 1;
        }
        _total.GetData<int>()[0] = paddedLength;
        using var idTensor = OrtTensor.From<long>(ids, batch, paddedLength);
        using var positionTensor = OrtTensor.From<long>(positions, batch, paddedLength);
        var logits = OrtTensor.CreateOwned(TensorElementType.Float, [batch, paddedLength, Model.VocabSize], (nuint)((long)batch * paddedLength * Model.VocabSize * sizeof(float)));
        Bind(idTensor, positionTensor, logits, batch);
        RunBinding();
        StepIds.Reshape([batch, 1]);
        StepPositions.Reshape([batch, 1]);
        StepLogits.Reshape([batch, 1, Model.VocabSize]);
        Bind(StepIds, StepPositions, StepLogits, batch);
        return logits;
    }

    protected override void RunStep()
    {
        var seqLens = _seqLens.GetData<int>();
        int longest = 0;
        for (int b = 0; b < BatchSize; b++)
        {
            seqLens[b] = Lengths[b]; // the new total length - 1
            longest = Math.Max(longest, Lengths[b] + 1);
        }
        _total.GetData<int>()[0] = longest;
        RunBinding(); // every tensor was bound at prefill; only their contents changed
    }

    private void Bind(OrtTensor ids, OrtTensor positions, OrtTensor logits, int batch)
    {
        Binding.BindInput(InputIdsName, ids);
        Binding.BindInput(PositionIdsName, positions);
        Binding.BindInput(SeqLensName, _seqLens);
        Binding.BindInput(TotalName, _total);
        Binding.BindOutput(LogitsName, logits);
        for (int i = 0; i < Model.Layers; i++)
        {
            Binding.BindInput(PastKeyNames[i], _keys[i]);
            Binding.BindInput(PastValueNames[i], _values[i]);
            Binding.BindOutput(PresentKeyNames[i], _keys[i]);
            Binding.BindOutput(PresentValueNames[i], _values[i]);
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
        _seqLens.Dispose();
        _total.Dispose();
    }
}
