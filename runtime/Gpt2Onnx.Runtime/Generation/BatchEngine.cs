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
/// refilled with the next requests, so the batch stays full (<see cref="ContinuousBatch"/> says how refills are
/// grouped); results still come back in input order. The cache is allocated once (<c>maxBatch × maxLength</c>).
/// Each sequence has its own sampler and seed, and attention never crosses rows, so a request's result does not
/// depend on which requests shared its batch. Continuous batching needs a fused graph (slots refill in place in
/// its shared cache); a portable graph runs in static batches instead.
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
                await foreach (var item in items.WithCancellation(stop.Token))
                    await requests.Writer.WriteAsync(item, stop.Token);
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
    /// Continuous batching, a step at a time: hand out what is done, sample each running sequence's next token,
    /// step the live rows, refill the free slots. Cancellation is checked before each step (static batches: before
    /// each batch); a request's own cancellation (its observer's) too, and it leaves its slot then.
    /// </summary>
    private IEnumerable<BatchOutput> RunContinuous(RequestSource source, bool inOrder, CancellationToken cancellation)
    {
        using var _ = source;
        var batch = new ContinuousBatch(_model, _decoder, source, _maxBatch, _maxLength, SearchBeams);
        batch.Refill();
        while (true)
        {
            batch.DropCancelled();
            foreach (var output in batch.TakeDone(inOrder)) yield return output;
            cancellation.ThrowIfCancellationRequested();
            if (batch.Idle)
            {
                if (batch.Exhausted) yield break; // every request read is done and handed out
                batch.Refill(waitForOne: true); // a producer slower than the engine: wait for its next request
                continue;
            }
            TokensGenerated += batch.SampleNextTokens();
            batch.StepLiveRows();
            batch.Refill();
        }
    }

    /// <summary>The error of a request whose observer cancelled it before it got a slot.</summary>
    public const string CancelledBeforeStart = "the request was cancelled before it started";

    internal static bool IsCancelled(BatchItem item) => item.Observer?.Cancellation.IsCancellationRequested == true;

    /// <summary>Tells the request's observer that it is done, and returns its output.</summary>
    internal static BatchOutput Finished(BatchItem item, BatchOutput output)
    {
        item.Observer?.Finished(output);
        return output;
    }

    /// <summary>Static batching: groups of up to maxBatch requests, each run until its last sequence ends.</summary>
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
                    var encoded = group[i].Request with { Prompt = null, PromptIds = ids, TruncatePromptLeft = false };
                    runnable.Add((i, group[i] with { Request = encoded }));
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
