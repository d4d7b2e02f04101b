using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// One HTTP request's sequences in the engine: every prompt times <c>n</c> choices (choice index prompt × n + i,
/// as OpenAI numbers them), and the events of all of them in one channel. The client leaving (or the server's
/// stop deadline) cancels them all, and each frees its slot at the engine's next step.
/// </summary>
internal sealed class CompletionRun : IDisposable
{
    private readonly Channel<ChoiceEvent> _events =
        Channel.CreateUnbounded<ChoiceEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _cancel;

    public CompletionRun(CompletionEngine engine, IReadOnlyList<int[]> prompts, SamplingRequest sampling,
                         CancellationToken aborted)
    {
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(aborted, engine.Stopping);
        // Without a seed every request draws its own; with one, choice i gets seed + i (one prompt or many).
        ulong seed = sampling.Seed ?? (ulong)Random.Shared.NextInt64();
        var requests = new List<(GenerationRequest, ChoiceObserver)>();
        for (int p = 0; p < prompts.Count; p++)
            for (int i = 0; i < sampling.N; i++)
            {
                var options = sampling.Options(engine.Model.DefaultSampling, seed, i);
                int choice = p * sampling.N + i;
                var observer = new ChoiceObserver(choice, _events.Writer, _cancel.Token, sampling.Logprobs, engine);
                requests.Add((new GenerationRequest { PromptIds = prompts[p], Options = options }, observer));
            }
        Count = requests.Count;
        try
        {
            engine.Submit(requests);
        }
        catch
        {
            _cancel.Dispose();
            throw;
        }
        engine.Metrics.PromptTokens.Inc(prompts.Sum(p => p.Length));
    }

    public int Count { get; }

    /// <summary>Every choice's events as they come, until the last one is done; ends when the client leaves.</summary>
    public async IAsyncEnumerable<ChoiceEvent> Events([EnumeratorCancellation] CancellationToken aborted)
    {
        int finished = 0;
        while (finished < Count)
        {
            var next = await _events.Reader.ReadAsync(aborted);
            if (next is FinishedEvent) finished++;
            yield return next;
        }
    }

    /// <summary>Waits for every choice; returns their results in choice order, with their tokens' events.</summary>
    public async Task<(GenerationResult Result, List<TokenEvent> Tokens)[]> ResultsAsync(CancellationToken aborted)
    {
        var results = new (GenerationResult, List<TokenEvent>)[Count];
        var tokens = Enumerable.Range(0, Count).Select(_ => new List<TokenEvent>()).ToArray();
        await foreach (var next in Events(aborted))
        {
            if (next is TokenEvent token) tokens[token.Choice].Add(token);
            else if (next is FinishedEvent { Output: var output } done)
                results[done.Choice] = (output.Result ?? throw new ApiError(500, output.Error ?? "no result"),
                                        tokens[done.Choice]);
        }
        return results;
    }

    /// <summary>OpenAI's finish reasons: a stop token or string is "stop"; the length or context, "length".</summary>
    public static string FinishReason(GenerationResult result) => result.FinishReason switch
    {
        FinishReasons.Stop or FinishReasons.StopString => "stop",
        FinishReasons.Length => "length",
        var other => other,
    };

    /// <summary>
    /// The text a stream still owes its client once the sequence is done: what the tokens' pieces held back at the
    /// end (a character cut short, or the start of a stop string that never completed).
    /// </summary>
    public static string Tail(GenerationResult result, int streamed) =>
        result.Text[Math.Min(streamed, result.Text.Length)..];

    /// <summary>
    /// Streams every choice as server-sent events, the same way for both endpoints: a chunk per token that made text
    /// (every token where <paramref name="everyToken"/>, for its log-probabilities), then a choice's final chunk with
    /// the text its end made final and its finish reason; a choice that failed sends an error object instead.
    /// Returns the tokens generated, for the usage chunk.
    /// </summary>
    public async Task<int> StreamAsync(HttpResponse response, bool everyToken, Func<TokenEvent, object> tokenChunk,
                                       Func<int, string, string, object> finalChunk, CancellationToken aborted)
    {
        var streamed = new int[Count];
        int generated = 0;
        await foreach (var next in Events(aborted))
        {
            if (next is TokenEvent token && (token.Text.Length > 0 || everyToken))
            {
                streamed[token.Choice] += token.Text.Length;
                await ServerSentEvents.WriteAsync(response, tokenChunk(token), aborted);
            }
            else if (next is FinishedEvent { Output: var output } done)
            {
                if (output.Result is not { } result)
                {
                    var error = new ApiError(500, output.Error ?? "no result");
                    await ServerSentEvents.WriteAsync(response, error.Body, aborted);
                    continue;
                }
                generated += result.TokenIds.Length;
                var chunk = finalChunk(done.Choice, Tail(result, streamed[done.Choice]), FinishReason(result));
                await ServerSentEvents.WriteAsync(response, chunk, aborted);
            }
        }
        return generated;
    }

    /// <summary>Cancels what still runs (a client that left mid-stream), so the engine frees the slots.</summary>
    public void Dispose()
    {
        _cancel.Cancel();
        _cancel.Dispose();
    }
}
