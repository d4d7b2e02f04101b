using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>One request of a batch job, with its identity and its sampling seed.</summary>
public sealed record BatchItem(string Id, GenerationRequest Request)
{
    /// <summary>Follows this request as it runs (its tokens, its end, its cancellation); none in a batch job.</summary>
    public SequenceObserver? Observer { get; init; }
}

/// <summary>A finished request: its result, or the error that kept it from running.</summary>
public sealed record BatchOutput(string Id, GenerationResult? Result, ulong Seed, string? Error);

/// <summary>
/// Generates for a stream of requests with continuous batching: when sequences finish, their slots are
/// refilled with the next requests, so the batch stays full. Refills wait until an eighth of the slots are
/// free and prefill prompts of similar length together (one run reads the weights once for several), so
/// requests may start out of order, within a lookahead of twice the batch; results still come back in
/// input order. Requests that arrive one by one while others run wait for as many as that, for at most as many
/// steps. The cache is allocated once (<c>maxBatch × maxLength</c>). Each sequence has its own sampler and
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
        Run(RequestSource.Of(items), continuous, inOrder: true);

    /// <summary>
    /// Runs requests as an asynchronous producer supplies them (an app's queue, a channel, a network
    /// stream), on a thread of the engine's own: while it waits for more it keeps stepping the sequences it
    /// has, and it yields each output in input order (or, unless <paramref name="inOrder"/>, as each is done: a
    /// server answers every request on its own, and one long request must not hold back the outputs after it).
    /// Cancelling, or leaving the loop early, stops the engine (it can run again after); an error of the producer
    /// or the engine ends the loop with that error. An engine does one run at a time, synchronous or not.
    /// </summary>
    public async IAsyncEnumerable<BatchOutput> RunAsync(IAsyncEnumerable<BatchItem> items, bool continuous = true,
                                                         [EnumeratorCancellation] CancellationToken cancellationToken =
                                                             default, bool inOrder = true)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var options = new BoundedChannelOptions(2 * _maxBatch) { SingleReader = true, SingleWriter = true };
        var requests = Channel.CreateBounded<BatchItem>(options);
        var outputs = Channel.CreateBounded<BatchOutput>(options);
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var item in items.WithCancellation(stop.Token)) await requests.Writer.WriteAsync(item, stop.Token);
                requests.Writer.Complete();
            }
            catch (Exception e)
            {
                requests.Writer.Complete(e);
            }
        }, CancellationToken.None);
        var engine = Task.Factory.StartNew(() =>
        {
            try
            {
                var source = RequestSource.Of(requests.Reader, stop.Token);
                foreach (var output in Run(source, continuous, inOrder, stop.Token))
                    outputs.Writer.WriteAsync(output, stop.Token).AsTask().GetAwaiter().GetResult();
                outputs.Writer.Complete();
            }
            catch (Exception e)
            {
                outputs.Writer.Complete(e);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await foreach (var output in outputs.Reader.ReadAllAsync(cancellationToken)) yield return output;
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(producer, engine); // neither throws: their errors went into the channels
        }
    }

    private IEnumerable<BatchOutput> Run(RequestSource source, bool continuous, bool inOrder,
                                         CancellationToken cancellation = default) =>
        continuous && Continuous ? RunContinuous(source, inOrder, cancellation) : RunStatic(source, cancellation);

    /// <summary>
    /// Cancellation is checked before each step (static batches: before each batch); a request's own
    /// cancellation (its observer's) before each step too, and it leaves its slot then.
    /// </summary>
    private IEnumerable<BatchOutput> RunContinuous(RequestSource source, bool inOrder, CancellationToken cancellation)
    {
        var slots = new (int Index, BatchItem Item, SequenceState State)?[_maxBatch];
        var done = new Dictionary<int, BatchOutput>();
        var pending = new List<Waiting>(); // read ahead, prompts encoded, in input order
        int nextToYield = 0, read = 0;
        using var _ = source;
        bool exhausted = false;
        var tokens = new int[_maxBatch];
        _decoder.StartEmpty(_maxBatch);
        // Refills wait until this many slots are free (or nothing else runs), so one prefill serves several prompts.
        int refillAt = Math.Max(1, _maxBatch / 8), lookahead = 2 * _maxBatch;
        int deferred = 0; // refills put off in a row while requests trickle in

        // Reads the requests that have arrived until the lookahead is full (waiting for the first one only when
        // asked); a request that cannot run is done at once, with its error.
        void ReadAhead(bool waitForOne)
        {
            while (!exhausted && pending.Count < lookahead)
            {
                var outcome = source.TryRead(waitForOne, out var item);
                waitForOne = false;
                if (outcome == RequestSource.Read.NotYet) break;
                if (outcome == RequestSource.Read.End)
                {
                    exhausted = true;
                    break;
                }
                int index = read++;
                try
                {
                    var options = item.Request.Options.Validate();
                    var prompt = SequenceState.PromptIds(_model, item.Request);
                    if (prompt.Length >= _maxLength && options.MaxNewTokens > 0) // no new token needs no room
                        throw new Gpt2OnnxException($"the prompt has {prompt.Length} tokens, more than the engine's maximum length of {_maxLength - 1}");
                    int maxTotal = (int)Math.Min(_maxLength, prompt.Length + (long)options.MaxNewTokens);
                    var waiting = new Waiting(index, item, prompt, options, maxTotal);
                    if (options.MaxNewTokens == 0) Done(index, item, waiting.Start(_model).Result(null), null);
                    else if (options.Beams.Enabled) Done(index, item, SearchBeams(item.Request), null);
                    else pending.Add(waiting);
                }
                catch (Gpt2OnnxException e)
                {
                    Done(index, item, null, e.Message);
                }
            }
        }

        // Gathers the busy slots at the front and returns how many there are: each free row among the first
        // `busy` takes the last busy slot (its cache and next token move), so a finished sequence costs one
        // move, not a shift of every row behind it. Rows are independent, so their order does not matter.
        int GatherBusy()
        {
            int busy = 0;
            for (int row = 0; row < _decoder.BatchSize; row++)
                if (slots[row] != null) busy++;
            for (int row = 0, last = _decoder.BatchSize - 1; row < busy; row++)
            {
                if (slots[row] != null) continue;
                while (slots[last] == null) last--;
                _decoder.MoveSlot(last, row);
                (slots[row], slots[last]) = (slots[last], null);
                tokens[row] = tokens[last];
                last--;
            }
            return busy;
        }

        void Done(int index, BatchItem item, GenerationResult? result, string? error) =>
            done[index] = Finished(item, new BatchOutput(item.Id, result, item.Request.Options.Seed, error));

        // Requests cancelled while they wait leave the lookahead; those running leave their slots.
        void DropCancelled()
        {
            foreach (var waiting in pending.Where(w => IsCancelled(w.Item)).ToList())
            {
                pending.Remove(waiting);
                Done(waiting.Index, waiting.Item, null, CancelledBeforeStart);
            }
            for (int row = 0; row < _decoder.BatchSize; row++)
            {
                if (slots[row] is not { } slot || !slot.State.CancellationRequested) continue;
                slot.State.Cancel();
                Done(slot.Index, slot.Item, slot.State.Result(null), null);
                slots[row] = null;
            }
        }

        // Fills the free slots from the lookahead, in groups of prompts of similar length (each group one
        // prefill): the oldest waiting request always goes first, so none waits for ever.
        void Refill(bool waitForOne = false)
        {
            ReadAhead(waitForOne);
            DropCancelled();
            int busy = slots.Count(s => s != null), free = _maxBatch - busy;
            if (pending.Count == 0 || free == 0) return;
            if (busy > 0 && free < refillAt && pending.Count > free) return;
            // Requests that trickle in (a server's clients, each sending its next when its last is answered) would
            // each get a prefill of its own, a read of every weight for one prompt: while others run, a refill
            // waits for refillAt of them, for at most refillAt steps.
            if (busy > 0 && !exhausted && pending.Count < Math.Min(free, refillAt) && deferred++ < refillAt) return;
            deferred = 0;
            int row = GatherBusy();
            _decoder.ResizeBatch(Math.Min(_maxBatch, row + pending.Count));
            while (row < _decoder.BatchSize && pending.Count > 0)
            {
                var group = TakeSimilar(pending, _decoder.BatchSize - row);
                _decoder.RefillSlots(row, group.Select(w => w.Prompt).ToList());
                foreach (var waiting in group)
                {
                    slots[row++] = (waiting.Index, waiting.Item, waiting.Start(_model));
                    waiting.Item.Observer?.Started();
                }
                ReadAhead(waitForOne: false);
            }
        }

        Refill();
        while (true)
        {
            DropCancelled();
            while (done.Remove(nextToYield, out var ready))
            {
                yield return ready;
                nextToYield++;
            }
            if (!inOrder)
            {
                foreach (var ready in done.Values) yield return ready;
                done.Clear();
            }
            cancellation.ThrowIfCancellationRequested();
            if (pending.Count == 0 && slots.All(s => s == null))
            {
                if (exhausted) yield break; // every request read is done and yielded
                Refill(waitForOne: true); // idle until a request arrives (only a producer that is slower than the engine gets here)
                continue;
            }
            for (int row = 0; row < _decoder.BatchSize; row++)
            {
                if (slots[row] is not { } slot) continue;
                tokens[row] = slot.State.Next(_decoder.Logits(row), _decoder.Length(row), null);
                TokensGenerated++;
                if (slot.State.Done)
                {
                    Done(slot.Index, slot.Item, slot.State.Result(null), null);
                    slots[row] = null;
                }
            }
            // Only live sequences are stepped: the finished ones leave and the rest gather at the front, so
            // neither a slot waiting for its refill nor a job's tail pays for a full batch.
            int busy = GatherBusy();
            if (busy > 0)
            {
                if (busy < _decoder.BatchSize) _decoder.ResizeBatch(busy);
                _decoder.Step(tokens.AsSpan(0, busy));
            }
            Refill();
        }
    }

    /// <summary>A request read, checked and encoded, waiting for a slot.</summary>
    private sealed record Waiting(int Index, BatchItem Item, int[] Prompt, SamplingOptions Options, int MaxTotal)
    {
        /// <summary>Its sequence state (with a sampler of a few vocabulary-sized buffers), made only when it gets a slot.</summary>
        public SequenceState Start(LanguageModel model) =>
            new(model, Prompt, Options, streams: false, MaxTotal, Item.Observer);
    }

    /// <summary>The error of a request whose observer cancelled it before it got a slot.</summary>
    public const string CancelledBeforeStart = "the request was cancelled before it started";

    private static bool IsCancelled(BatchItem item) => item.Observer?.Cancellation.IsCancellationRequested == true;

    /// <summary>Tells the request's observer that it is done, and returns its output.</summary>
    private static BatchOutput Finished(BatchItem item, BatchOutput output)
    {
        item.Observer?.Finished(output);
        return output;
    }

    /// <summary>
    /// Takes from <paramref name="pending"/> its first request and up to <paramref name="most"/> - 1 others
    /// whose prompts are at most <see cref="FusedDecoder.GroupLengthSpread"/> tokens longer or shorter, closest
    /// first: a group shares one right-padded prefill, whose padding and extra logits rows then cost little
    /// (GPT-2 124M, 256 mixed prompts: a spread of 2 beat 0, 4 and 8; groups of 16 beat 8).
    /// </summary>
    private static List<Waiting> TakeSimilar(List<Waiting> pending, int most)
    {
        int length = pending[0].Prompt.Length;
        var group = pending.Take(1)
            .Concat(pending.Skip(1).Where(w => Math.Abs(w.Prompt.Length - length) <= FusedDecoder.GroupLengthSpread).OrderBy(w => Math.Abs(w.Prompt.Length - length)).ThenBy(w => w.Index))
            .Take(Math.Min(most, FusedDecoder.GroupLimit)).ToList();
        foreach (var waiting in group) pending.Remove(waiting);
        return group;
    }

    /// <summary>Static batching: groups of up to maxBatch requests, each group running until its last sequence ends.</summary>
    private IEnumerable<BatchOutput> RunStatic(RequestSource source, CancellationToken cancellation)
    {
        using var _ = source;
        using var generator = new Generator(_model);
        bool exhausted = false;
        while (!exhausted)
        {
            cancellation.ThrowIfCancellationRequested();
            // A batch takes the requests that have arrived, up to maxBatch, waiting only for its first.
            var group = new List<BatchItem>(_maxBatch);
            while (group.Count < _maxBatch)
            {
                var outcome = source.TryRead(wait: group.Count == 0, out var item);
                exhausted = outcome == RequestSource.Read.End;
                if (outcome != RequestSource.Read.Item) break;
                group.Add(item);
            }
            var runnable = new List<(int Index, BatchItem Item)>();
            var outputs = new BatchOutput?[group.Count];
            for (int i = 0; i < group.Count; i++)
            {
                try
                {
                    if (IsCancelled(group[i])) throw new Gpt2OnnxException(CancelledBeforeStart);
                    group[i].Request.Options.Validate();
                    // Encoded once here, to catch bad prompts; the generator then takes the ids as they are.
                    var ids = SequenceState.PromptIds(_model, group[i].Request);
                    runnable.Add((i, group[i] with { Request = group[i].Request with { Prompt = null, PromptIds = ids, TruncatePromptLeft = false } }));
                }
                catch (Gpt2OnnxException e)
                {
                    var failed = new BatchOutput(group[i].Id, null, group[i].Request.Options.Seed, e.Message);
                    outputs[i] = Finished(group[i], failed);
                }
            }
            if (runnable.Count > 0)
            {
                var requests = runnable.Select(r => r.Item.Request).ToList();
                var results = generator.Generate(requests, null, runnable.Select(r => r.Item.Observer).ToList());
                TokensGenerated += generator.LastRun.Tokens;
                for (int k = 0; k < runnable.Count; k++)
                {
                    var item = runnable[k].Item;
                    var output = new BatchOutput(item.Id, results[k], item.Request.Options.Seed, null);
                    outputs[runnable[k].Index] = Finished(item, output);
                }
            }
            foreach (var output in outputs) yield return output!;
        }
    }

    private Generator? _beamSearch; // beam search requests' own decoder: their beams are its batch

    /// <summary>
    /// Runs a beam search request at once, on a decoder of its own, while the slots wait: its beams reselect and
    /// reorder their rows every step, which a slot of the shared batch cannot do.
    /// </summary>
    private GenerationResult SearchBeams(GenerationRequest request)
    {
        _beamSearch ??= new Generator(_model);
        var result = _beamSearch.Generate(request);
        TokensGenerated += _beamSearch.LastRun.Tokens;
        return result;
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _beamSearch?.Dispose();
    }
}
