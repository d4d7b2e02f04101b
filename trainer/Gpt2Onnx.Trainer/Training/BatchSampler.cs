using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Trainer.Data;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Training windows of Context + 1 tokens (inputs and next-token targets): random starts, or strided
/// overlapping starts in order. Its whole state (generator state, cursor) goes into checkpoints.
/// </summary>
public sealed class BatchSampler
{
    private readonly TokenShard _shard;
    private readonly int _context;
    private readonly int? _stride;
    private readonly double _noise;
    private readonly int _vocabSize;

    public Xoshiro256 Random { get; }
    /// <summary>The next strided window's start.</summary>
    public long Cursor { get; set; }

    public BatchSampler(TokenShard shard, int context, int? stride, double noise, int vocabSize, ulong seed)
    {
        if (shard.Length < context + 1)
            throw new Gpt2OnnxException($"{shard.Path} holds {shard.Length} tokens, fewer than one training window " +
                                        $"of {context + 1}: add text, or lower --context");
        if (stride is <= 0) throw new Gpt2OnnxException($"--stride must be positive, not {stride}");
        _shard = shard;
        _context = context;
        _stride = stride;
        _noise = noise;
        _vocabSize = vocabSize;
        Random = new Xoshiro256(seed);
    }

    /// <summary>Fills inputs and targets (each batch × context, row-major) with the next windows.</summary>
    public void Next(int batch, long[] inputs, long[] targets)
    {
        var window = new long[_context + 1];
        long lastStart = _shard.Length - (_context + 1);
        for (int b = 0; b < batch; b++)
        {
            long start;
            if (_stride is int stride)
            {
                if (Cursor > lastStart) Cursor = 0;
                start = Cursor;
                Cursor += stride;
            }
            else
            {
                start = Random.NextInt64(lastStart + 1);
            }
            _shard.Read(start, window);
            window.AsSpan(0, _context).CopyTo(inputs.AsSpan(b * _context, _context));
            window.AsSpan(1, _context).CopyTo(targets.AsSpan(b * _context, _context));
        }
        if (_noise > 0)
        {
            // GPT-2's fine-tuning code corrupted inputs (never targets) this way to regularise small data sets.
            for (int i = 0; i < batch * _context; i++)
                if (Random.NextDouble() < _noise) inputs[i] = Random.NextInt64(_vocabSize);
        }
    }
}
