using System.Collections.Concurrent;
using System.Threading.Channels;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// The one batch engine every request joins: requests from all clients go into one queue, which the engine reads
/// while it steps the sequences it has (continuous batching on a fused graph, static batches on a portable one).
/// Admission counts the sequences waiting for a slot and refuses past <see cref="ServerOptions.MaxQueue"/>.
/// </summary>
internal sealed class CompletionEngine : IDisposable
{
    private readonly BatchEngine _engine;
    private readonly Channel<BatchItem> _queue =
        Channel.CreateUnbounded<BatchItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<ChoiceObserver, BatchItem> _live = new();
    private readonly int _maxQueue, _maxBatch;
    private int _waiting, _running;
    private long _nextId;
    private Task _run = Task.CompletedTask;
    private volatile string? _failure;

    public CompletionEngine(LanguageModel model, ServerOptions options, ServerMetrics metrics)
    {
        Model = model;
        Metrics = metrics;
        _maxQueue = options.MaxQueue;
        _maxBatch = options.MaxBatch;
        MaxLength = options.MaxLength <= 0 ? model.ContextLength : Math.Min(options.MaxLength, model.ContextLength);
        _engine = new BatchEngine(model, options.MaxBatch, MaxLength);
    }

    public LanguageModel Model { get; }
    public ServerMetrics Metrics { get; }
    /// <summary>Tokens a sequence may hold, prompt included: the model's context, or less by --max-length.</summary>
    public int MaxLength { get; }
    /// <summary>Continuous batching (a fused graph) or static batches (a portable one).</summary>
    public bool Continuous => _engine.Continuous;
    /// <summary>Cancelled when a stop's deadline passes: every sequence still running ends then.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public void Start() => _run = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        try
        {
            // Outputs come through each request's observer; the loop only keeps the engine going.
            await foreach (var _ in _engine.RunAsync(_queue.Reader.ReadAllAsync(), inOrder: false)) { }
        }
        catch (Exception e)
        {
            // A failure of the engine (not of a request: those come back as outputs) ends every request in flight.
            _failure = e.Message;
            Console.Error.WriteLine($"serve: error: the engine stopped: {Gpt2Onnx.Cli.CliHost.OneLine(e.Message)}");
            foreach (var (observer, item) in _live)
                observer.Finished(new BatchOutput(item.Id, null,
                                                  item.Request.Options.Seed, $"the engine stopped: {e.Message}"));
        }
    }

    /// <summary>
    /// Queues <paramref name="requests"/> as one admission (all or none), each followed by its observer; a full queue
    /// is a 429, a stopping or failed engine a 503.
    /// </summary>
    public void Submit(IReadOnlyList<(GenerationRequest Request, ChoiceObserver Observer)> requests)
    {
        if (_failure != null) throw new ApiError(503, $"the engine stopped ({_failure}): restart the server");
        if (Interlocked.Add(ref _waiting, requests.Count) > _maxQueue)
        {
            Interlocked.Add(ref _waiting, -requests.Count);
            throw new ApiError(429, $"the queue is full: {_maxQueue} sequences already wait for a slot " +
                                    "(--max-queue); retry later",
                               code: "queue_full");
        }
        Metrics.QueueLength.Set(Volatile.Read(ref _waiting));
        foreach (var (request, observer) in requests)
        {
            var item = new BatchItem($"seq-{Interlocked.Increment(ref _nextId)}", request) { Observer = observer };
            _live[observer] = item;
            if (!_queue.Writer.TryWrite(item))
                observer.Finished(new BatchOutput(item.Id, null, request.Options.Seed, "the server is stopping"));
        }
    }

    public void SequenceStarted()
    {
        Metrics.QueueLength.Set(Interlocked.Decrement(ref _waiting));
        Occupancy(Interlocked.Increment(ref _running));
    }

    public void SequenceFinished(ChoiceObserver observer, BatchOutput output)
    {
        _live.TryRemove(observer, out _);
        if (observer.HasStarted) Occupancy(Interlocked.Decrement(ref _running));
        else Metrics.QueueLength.Set(Interlocked.Decrement(ref _waiting));
        if (output.Result is { } result) Metrics.CompletionTokens.Inc(result.TokenIds.Length);
        if (output.Result?.FinishReason == FinishReasons.Cancelled || output.Error == BatchEngine.CancelledBeforeStart)
            Metrics.Cancelled.Inc();
    }

    private void Occupancy(int running)
    {
        Metrics.RunningSequences.Set(running);
        Metrics.BatchOccupancy.Set((double)running / _maxBatch);
    }

    /// <summary>
    /// Takes no more requests and lets those in flight finish; when <paramref name="deadline"/> passes first, cancels
    /// them (each ends at the engine's next step) and waits for that.
    /// </summary>
    public async Task StopAsync(CancellationToken deadline)
    {
        _queue.Writer.TryComplete();
        try
        {
            await _run.WaitAsync(deadline);
        }
        catch (OperationCanceledException)
        {
            _stopping.Cancel();
            await _run;
        }
    }

    public void Dispose()
    {
        _engine.Dispose();
        _stopping.Dispose();
    }
}
