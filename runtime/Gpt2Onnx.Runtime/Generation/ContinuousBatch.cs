using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// The state of one continuous-batching run of a <see cref="BatchEngine"/>: the decoder's slots and the sequences
/// in them, the requests read ahead (checked, prompts encoded, waiting for a slot) and the outputs done but not yet
/// handed out. Refills wait until an eighth of the slots are free and prefill prompts of similar length together,
/// so one run over the weights serves several prompts; requests may start out of order within a lookahead of twice
/// the batch, while <see cref="TakeDone"/> still hands results out in input order. Requests that arrive one by one
/// while others run wait for as many as that, for at most as many steps.
/// </summary>
internal sealed class ContinuousBatch
{
    private readonly LanguageModel _model;
    private readonly Decoder _decoder;
    private readonly RequestSource _source;
    private readonly int _maxLength;
    private readonly Func<GenerationRequest, GenerationResult> _searchBeams;
    private readonly (int Index, BatchItem Item, SequenceState State)?[] _slots;
    private readonly int[] _tokens; // each slot's next token, fed to the next step
    private readonly Dictionary<int, BatchOutput> _done = new(); // by input index, until handed out
    private readonly List<Waiting> _pending = new(); // read ahead, prompts encoded, in input order
    private readonly int _refillAt; // refills wait until this many slots are free (or nothing else runs)
    private readonly int _lookahead;
    private int _read, _nextToYield;
    private int _deferred; // refills put off in a row while requests trickle in

    /// <param name="searchBeams">runs a beam search request at once, outside the slots</param>
    public ContinuousBatch(LanguageModel model, Decoder decoder, RequestSource source, int maxBatch, int maxLength,
                           Func<GenerationRequest, GenerationResult> searchBeams)
    {
        (_model, _decoder, _source, _maxLength, _searchBeams) = (model, decoder, source, maxLength, searchBeams);
        _slots = new (int, BatchItem, SequenceState)?[maxBatch];
        _tokens = new int[maxBatch];
        _refillAt = Math.Max(1, maxBatch / 8);
        _lookahead = 2 * maxBatch;
        _decoder.StartEmpty(maxBatch);
    }

    /// <summary>Whether the source has no more requests.</summary>
    public bool Exhausted { get; private set; }

    /// <summary>Whether no request waits and no slot runs.</summary>
    public bool Idle => _pending.Count == 0 && _slots.All(s => s == null);

    /// <summary>
    /// The outputs ready to hand out: in input order, each once it and all before it are done; unless
    /// <paramref name="inOrder"/>, then every one done so far too.
    /// </summary>
    public IEnumerable<BatchOutput> TakeDone(bool inOrder)
    {
        while (_done.Remove(_nextToYield, out var ready))
        {
            yield return ready;
            _nextToYield++;
        }
        if (inOrder) yield break;
        foreach (var ready in _done.Values) yield return ready;
        _done.Clear();
    }

    /// <summary>
    /// Samples each running sequence's next token from the last step's logits; a sequence that ends is done and
    /// leaves its slot.
    /// </summary>
    /// <returns>the number of tokens sampled</returns>
    public int SampleNextTokens()
    {
        int sampled = 0;
        for (int row = 0; row < _decoder.BatchSize; row++)
        {
            if (_slots[row] is not { } slot) continue;
            _tokens[row] = slot.State.Next(_decoder.Logits(row), _decoder.Length(row), null);
            sampled++;
            if (slot.State.Done)
            {
                Done(slot.Index, slot.Item, slot.State.Result(null), null);
                _slots[row] = null;
            }
        }
        return sampled;
    }

    /// <summary>
    /// One decoder step over the live sequences only: the finished ones have left and the rest gather at the front,
    /// so neither a slot waiting for its refill nor a job's tail pays for a full batch.
    /// </summary>
    public void StepLiveRows()
    {
        int busy = GatherBusy();
        if (busy == 0) return;
        if (busy < _decoder.BatchSize) _decoder.ResizeBatch(busy);
        _decoder.Step(_tokens.AsSpan(0, busy));
    }

    /// <summary>Requests cancelled while they wait leave the lookahead; those running leave their slots.</summary>
    public void DropCancelled()
    {
        foreach (var waiting in _pending.Where(w => BatchEngine.IsCancelled(w.Item)).ToList())
        {
            _pending.Remove(waiting);
            Done(waiting.Index, waiting.Item, null, BatchEngine.CancelledBeforeStart);
        }
        for (int row = 0; row < _decoder.BatchSize; row++)
        {
            if (_slots[row] is not { } slot || !slot.State.CancellationRequested) continue;
            slot.State.Cancel();
            Done(slot.Index, slot.Item, slot.State.Result(null), null);
            _slots[row] = null;
        }
    }

    /// <summary>
    /// Fills the free slots from the lookahead, in groups of prompts of similar length (each group one prefill):
    /// the oldest waiting request always goes first, so none waits for ever.
    /// </summary>
    /// <param name="waitForOne">whether to wait for a request when none has arrived (when nothing else runs)</param>
    public void Refill(bool waitForOne = false)
    {
        ReadAhead(waitForOne);
        DropCancelled();
        int busy = _slots.Count(s => s != null), free = _slots.Length - busy;
        if (_pending.Count == 0 || free == 0) return;
        if (busy > 0 && free < _refillAt && _pending.Count > free) return;
        // Requests that trickle in (a server's clients, each sending its next when its last is answered) would
        // each get a prefill of its own, a read of every weight for one prompt: while others run, a refill
        // waits for refillAt of them, for at most refillAt steps.
        if (busy > 0 && !Exhausted && _pending.Count < Math.Min(free, _refillAt) && _deferred++ < _refillAt) return;
        _deferred = 0;
        int row = GatherBusy();
        _decoder.ResizeBatch(Math.Min(_slots.Length, row + _pending.Count));
        while (row < _decoder.BatchSize && _pending.Count > 0)
        {
            var group = TakeSimilar(_pending, _decoder.BatchSize - row);
            _decoder.RefillSlots(row, group.Select(w => w.Prompt).ToList());
            foreach (var waiting in group)
            {
                _slots[row++] = (waiting.Index, waiting.Item, waiting.Start(_model));
                waiting.Item.Observer?.Started();
            }
            ReadAhead(waitForOne: false);
        }
    }

    /// <summary>
    /// Reads the requests that have arrived until the lookahead is full (waiting for the first one only when
    /// asked).
    /// </summary>
    private void ReadAhead(bool waitForOne)
    {
        while (!Exhausted && _pending.Count < _lookahead)
        {
            var outcome = _source.TryRead(waitForOne, out var item);
            waitForOne = false;
            if (outcome == RequestSource.Read.NotYet) break;
            if (outcome == RequestSource.Read.End)
            {
                Exhausted = true;
                break;
            }
            Admit(_read++, item);
        }
    }

    /// <summary>
    /// A request read: checked and its prompt encoded, it waits for a slot; one that generates nothing, or searches
    /// beams, is done at once, and one that cannot run is done with its error.
    /// </summary>
    private void Admit(int index, BatchItem item)
    {
        try
        {
            var options = item.Request.Options.Validate();
            var prompt = SequenceState.PromptIds(_model, item.Request);
            if (prompt.Length >= _maxLength && options.MaxNewTokens > 0) // no new token needs no room
                throw new Gpt2OnnxException($"the prompt has {prompt.Length} tokens, more than the engine's " +
                                            $"maximum length of {_maxLength - 1}");
            int maxTotal = (int)Math.Min(_maxLength, prompt.Length + (long)options.MaxNewTokens);
            var waiting = new Waiting(index, item, prompt, options, maxTotal);
            if (options.MaxNewTokens == 0) Done(index, item, waiting.Start(_model).Result(null), null);
            else if (options.Beams.Enabled) Done(index, item, _searchBeams(item.Request), null);
            else _pending.Add(waiting);
        }
        catch (Gpt2OnnxException e)
        {
            Done(index, item, null, e.Message);
        }
    }

    /// <summary>
    /// Gathers the busy slots at the front and returns how many there are: each free row among the first
    /// <c>busy</c> takes the last busy slot (its cache and next token move), so a finished sequence costs one move,
    /// not a shift of every row behind it. Rows are independent, so their order does not matter.
    /// </summary>
    private int GatherBusy()
    {
        int busy = 0;
        for (int row = 0; row < _decoder.BatchSize; row++)
            if (_slots[row] != null) busy++;
        for (int row = 0, last = _decoder.BatchSize - 1; row < busy; row++)
        {
            if (_slots[row] != null) continue;
            while (_slots[last] == null) last--;
            _decoder.MoveSlot(last, row);
            (_slots[row], _slots[last]) = (_slots[last], null);
            _tokens[row] = _tokens[last];
            last--;
        }
        return busy;
    }

    private void Done(int index, BatchItem item, GenerationResult? result, string? error) =>
        _done[index] = BatchEngine.Finished(item, new BatchOutput(item.Id, result, item.Request.Options.Seed, error));

    /// <summary>
    /// Takes from <paramref name="pending"/> its first request and up to <paramref name="most"/> - 1 others
    /// whose prompts are at most <see cref="FusedDecoder.GroupLengthSpread"/> tokens longer or shorter, closest
    /// first: a group shares one right-padded prefill, whose padding and extra logits rows then cost little
    /// (docs/performance.md has the measurement that chose the spread and the group size).
    /// </summary>
    private static List<Waiting> TakeSimilar(List<Waiting> pending, int most)
    {
        int length = pending[0].Prompt.Length;
        var similar = pending.Skip(1)
            .Where(w => Math.Abs(w.Prompt.Length - length) <= FusedDecoder.GroupLengthSpread)
            .OrderBy(w => Math.Abs(w.Prompt.Length - length)).ThenBy(w => w.Index);
        var group = pending.Take(1).Concat(similar).Take(Math.Min(most, FusedDecoder.GroupLimit)).ToList();
        foreach (var waiting in group) pending.Remove(waiting);
        return group;
    }

    /// <summary>A request read, checked and encoded, waiting for a slot.</summary>
    private sealed record Waiting(int Index, BatchItem Item, int[] Prompt, SamplingOptions Options, int MaxTotal)
    {
        /// <summary>Its sequence state (with a sampler of a few vocabulary-sized buffers), made when it gets a slot.
        /// </summary>
        public SequenceState Start(LanguageModel model) =>
            new(model, Prompt, Options, streams: false, MaxTotal, Item.Observer);
    }
}
