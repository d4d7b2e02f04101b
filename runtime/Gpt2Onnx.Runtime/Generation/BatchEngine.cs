namespace Gpt2Onnx.Runtime.Generation;

/// <summary>One request of a batch job, with its identity and its sampling seed.</summary>
public sealed record BatchItem(string Id, GenerationRequest Request);

/// <summary>A finished request: its result, or the error that kept it from running.</summary>
public sealed record BatchOutput(string Id, GenerationResult? Result, ulong Seed, string? Error);

/// <summary>
/// Generates for a stream of requests with continuous batching: when a sequence finishes, its slot is
/// refilled with the next request at once, so the batch stays full. The cache is allocated once
/// (<c>maxBatch × maxLength</c>). Results come back in input order. Each sequence has its own sampler and
/// seed, and attention never crosses rows, so a request's result does not depend on which requests shared
/// its batch. Continuous batching needs a fused graph (slots refill in place in its shared cache); a
/// portable graph runs in static batches instead.
/// </summary>
public sealed class BatchEngine : IDisposable
{
    private readonly LanguageModel _model;
    private readonly int _maxBatch;
    private readonly int _maxLength;
    private readonly Decoder _decoder;

    public BatchEngine(LanguageModel model, int maxBatch = 16, int maxLength = 0)
    {
        if (maxBatch < 1) throw new Gpt2OnnxException($"the batch must hold at least one sequence, not {maxBatch}");
        _model = model;
        _maxBatch = maxBatch;
        _maxLength = maxLength <= 0 ? model.ContextLength : Math.Min(maxLength, model.ContextLength);
        _decoder = model.CreateDecoder(maxBatch, _maxLength);
    }

    /// <summary>Whether this engine refills slots (fused graphs) or runs static batches (portable graphs).</summary>
    public bool Continuous => _decoder.CanRefillSlots;

    /// <summary>Tokens generated so far (for progress reports).</summary>
    public long TokensGenerated { get; private set; }

    /// <summary>Runs every item; yields each output in input order as soon as it and all before it are done.</summary>
    public IEnumerable<BatchOutput> Run(IEnumerable<BatchItem> items, bool continuous = true) =>
        continuous && Continuous ? RunContinuous(items) : RunStatic(items);

    private IEnumerable<BatchOutput> RunContinuous(IEnumerable<BatchItem> items)
    {
        var slots = new (int Index, BatchItem Item, SequenceState State)?[_maxBatch];
        var done = new Dictionary<int, BatchOutput>();
        int nextToYield = 0, read = 0;
        using var source = items.GetEnumerator();
        bool exhausted = false;
        var tokens = new int[_maxBatch];
        var active = new bool[_maxBatch];
        _decoder.StartEmpty(_maxBatch);

        // Fills free slots with the next requests; a request that cannot run is done at once, with its error.
        void Refill()
        {
            for (int row = 0; row < _maxBatch && !exhausted; row++)
            {
                while (slots[row] == null && !exhausted)
                {
                    if (!source.MoveNext())
                    {
                        exhausted = true;
                        break;
                    }
                    int index = read++;
                    var item = source.Current;
                    try
                    {
                        var options = item.Request.Options.Validate();
                        var prompt = SequenceState.PromptIds(_model, item.Request);
                        if (prompt.Length >= _maxLength)
                            throw new Gpt2OnnxException($"the prompt has {prompt.Length} tokens, more than the engine's maximum length of {_maxLength - 1}");
                        var state = new SequenceState(_model, prompt, options, streams: false, Math.Min(_maxLength, prompt.Length + options.MaxNewTokens));
                        if (state.Done)
                        {
                            done[index] = new BatchOutput(item.Id, state.Result(null), options.Seed, null);
                            continue;
                        }
                        _decoder.RefillSlot(row, prompt);
                        slots[row] = (index, item, state);
                    }
                    catch (Gpt2OnnxException e)
                    {
                        done[index] = new BatchOutput(item.Id, null, item.Request.Options.Seed, e.Message);
                    }
                }
            }
        }

        // Once no request is left, the busy slots are gathered at the front and only those are stepped,
        // so the tail of a job does not pay for a full batch.
        void Compact()
        {
            int busy = slots.Count(s => s != null);
            if (busy == 0 || busy == _decoder.BatchSize) return;
            int free = 0;
            for (int row = busy; row < _decoder.BatchSize; row++)
            {
                if (slots[row] == null) continue;
                while (slots[free] != null) free++;
                _decoder.MoveSlot(row, free);
                (slots[free], slots[row]) = (slots[row], null);
            }
            _decoder.ShrinkBatch(busy);
        }

        Refill();
        while (true)
        {
            while (done.Remove(nextToYield, out var ready))
            {
                yield return ready;
                nextToYield++;
            }
            bool any = false;
            int batch = _decoder.BatchSize;
            for (int row = 0; row < batch; row++)
            {
                active[row] = false;
                if (slots[row] is not { } slot)
                {
                    tokens[row] = _model.EndOfTextId;
                    continue;
                }
                tokens[row] = slot.State.Next(_decoder.Logits(row), _decoder.Length(row), null);
                TokensGenerated++;
                if (slot.State.Done)
                {
                    done[slot.Index] = new BatchOutput(slot.Item.Id, slot.State.Result(null), slot.Item.Request.Options.Seed, null);
                    slots[row] = null;
                }
                else
                {
                    active[row] = true;
                    any = true;
                }
            }
            if (any) _decoder.Step(tokens.AsSpan(0, batch), active.AsSpan(0, batch));
            Refill();
            if (exhausted) Compact();
            if (!any && slots.All(s => s == null) && exhausted)
            {
                while (done.Remove(nextToYield, out var ready))
                {
                    yield return ready;
                    nextToYield++;
                }
                yield break;
            }
        }
    }

    /// <summary>Static batching: groups of up to maxBatch requests, each group running until its last sequence ends.</summary>
    private IEnumerable<BatchOutput> RunStatic(IEnumerable<BatchItem> items)
    {
        using var generator = new Generator(_model);
        foreach (var group in items.Chunk(_maxBatch))
        {
            var runnable = new List<(int Index, BatchItem Item)>();
            var outputs = new BatchOutput?[group.Length];
            for (int i = 0; i < group.Length; i++)
            {
                try
                {
                    group[i].Request.Options.Validate();
                    // Encoded once here, to catch bad prompts; the generator then takes the ids as they are.
                    var ids = SequenceState.PromptIds(_model, group[i].Request);
                    runnable.Add((i, group[i] with { Request = group[i].Request with { Prompt = null, PromptIds = ids, TruncatePromptLeft = false } }));
                }
                catch (Gpt2OnnxException e)
                {
                    outputs[i] = new BatchOutput(group[i].Id, null, group[i].Request.Options.Seed, e.Message);
                }
            }
            if (runnable.Count > 0)
            {
                var results = generator.Generate(runnable.Select(r => r.Item.Request).ToList());
                TokensGenerated += generator.LastRun.Tokens;
                for (int k = 0; k < runnable.Count; k++)
                    outputs[runnable[k].Index] = new BatchOutput(runnable[k].Item.Id, results[k], runnable[k].Item.Request.Options.Seed, null);
            }
            foreach (var output in outputs) yield return output!;
        }
    }

    public void Dispose() => _decoder.Dispose();
}
