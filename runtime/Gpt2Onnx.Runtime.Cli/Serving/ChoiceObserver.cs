using System.Diagnostics;
using System.Threading.Channels;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>What happens to one choice of a request, in the order it happens.</summary>
internal abstract record ChoiceEvent(int Choice);

/// <summary>A token and the text it made final (possibly none yet).</summary>
internal sealed record TokenEvent(int Choice, int Id, string Text, TokenLogprobs? Logprobs) : ChoiceEvent(Choice);

/// <summary>The choice is done: its whole result, or the error that ended it.</summary>
internal sealed record FinishedEvent(int Choice, BatchOutput Output) : ChoiceEvent(Choice);

/// <summary>
/// Follows one choice through the engine and hands what happens to the HTTP request's channel (the engine's thread
/// must not wait for a slow client), counting queue, batch and latency metrics on the way.
/// </summary>
internal sealed class ChoiceObserver(int choice, ChannelWriter<ChoiceEvent> events, CancellationToken cancellation,
                                     int? topLogprobs, CompletionEngine engine) : SequenceObserver
{
    private readonly long _arrived = Stopwatch.GetTimestamp();
    private long _lastToken;
    private int _finished;

    public bool HasStarted { get; private set; }

    public override CancellationToken Cancellation => cancellation;

    public override int? TopLogprobs => topLogprobs;

    public override void Started()
    {
        HasStarted = true;
        engine.SequenceStarted();
    }

    public override void Token(int id, string text, TokenLogprobs? logprobs)
    {
        long now = Stopwatch.GetTimestamp();
        var metrics = engine.Metrics;
        if (_lastToken == 0) metrics.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(_arrived, now).TotalSeconds);
        else metrics.InterTokenLatency.Observe(Stopwatch.GetElapsedTime(_lastToken, now).TotalSeconds);
        _lastToken = now;
        events.TryWrite(new TokenEvent(choice, id, text, logprobs));
    }

    public override void Finished(BatchOutput output)
    {
        // Once: the engine's own end, or the server's when the engine itself failed (Fail).
        if (Interlocked.Exchange(ref _finished, 1) == 1) return;
        engine.SequenceFinished(this, output);
        events.TryWrite(new FinishedEvent(choice, output));
    }
}
