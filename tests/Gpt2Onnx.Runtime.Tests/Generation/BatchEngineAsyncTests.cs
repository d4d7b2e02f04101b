using System.Runtime.CompilerServices;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>The batch engine fed by an asynchronous producer: same results, requests answered as they come, errors,
/// cancellation.</summary>
public sealed class BatchEngineAsyncTests : IDisposable
{
    // a hang fails the test instead of stopping the run
    private static readonly TimeSpan Deadlock = TimeSpan.FromMinutes(2);

    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _fused, _portable;

    public BatchEngineAsyncTests() => (_, _portable, _fused) = TinyModel.Export(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<BatchItem> Items(int count)
    {
        string[] prompts = ["the quick", "床前明月光，", "hello", "", "the lazy dog jumps over the", "fox"];
        return Enumerable.Range(0, count).Select(i => new BatchItem($"r{i}", new GenerationRequest
        {
            Prompt = prompts[i % prompts.Length],
            Options = new SamplingOptions
            {
                MaxNewTokens = 2 + i * 5 % 11,
                Temperature = i % 3 == 0 ? 0 : 0.9,
                TopK = i % 2 * 20,
                Seed = (ulong)(100 + i),
                TopP = i == 7 ? 2 : 1, // out of range: this request comes back with its error
            },
        })).ToList();
    }

    private static async IAsyncEnumerable<BatchItem> Trickle(IEnumerable<BatchItem> items,
                                                             [EnumeratorCancellation] CancellationToken cancellation =
                                                                 default)
    {
        foreach (var item in items)
        {
            await Task.Delay(1, cancellation);
            yield return item;
        }
    }

    private static string Describe(BatchOutput o) =>
        $"{o.Id} {o.Seed} {o.Error} {o.Result?.FinishReason} {string.Join(",", o.Result?.TokenIds ?? [])} " +
        $"{o.Result?.Text}";

    private static async Task<List<BatchOutput>> Collect(IAsyncEnumerable<BatchOutput> outputs)
    {
        var list = new List<BatchOutput>();
        await foreach (var output in outputs) list.Add(output);
        return list;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_asynchronous_producer_gets_what_the_synchronous_run_gives(bool fused)
    {
        using var model = LanguageModel.Load(fused ? _fused : _portable, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 3);
        var expected = engine.Run(Items(11)).Select(Describe).ToList();
        var actual = await Collect(engine.RunAsync(Trickle(Items(11)))).WaitAsync(Deadlock);
        Assert.Equal(expected, actual.Select(Describe));
        Assert.Contains("top-p", actual[7].Error);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Requests_sent_one_at_a_time_each_after_the_last_answer_are_all_answered(bool fused)
    {
        // A producer that waits for each answer before it sends the next request: an engine that waited for a
        // full batch, or for its lookahead, before stepping would never answer the first.
        using var model = LanguageModel.Load(fused ? _fused : _portable, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 4);
        var items = Items(5);
        var answered = new SemaphoreSlim(0);
        async IAsyncEnumerable<BatchItem> Conversation()
        {
            foreach (var item in items)
            {
                yield return item;
                await answered.WaitAsync();
            }
        }
        var ids = new List<string>();
        async Task Talk()
        {
            await foreach (var output in engine.RunAsync(Conversation()))
            {
                ids.Add(output.Id);
                answered.Release();
            }
        }
        await Talk().WaitAsync(Deadlock);
        Assert.Equal(items.Select(i => i.Id), ids);
    }

    [Fact]
    public async Task A_producer_error_ends_the_loop_with_that_error_and_the_engine_runs_again()
    {
        using var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 2);
        async IAsyncEnumerable<BatchItem> Failing()
        {
            await foreach (var item in Trickle(Items(3))) yield return item;
            throw new InvalidOperationException("the queue broke");
        }
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => Collect(engine.RunAsync(Failing())).WaitAsync(Deadlock));
        Assert.Equal("the queue broke", error.Message);
        Assert.Equal(6, engine.Run(Items(6)).Count());
    }

    [Fact]
    public async Task Cancelling_or_leaving_early_stops_the_engine_and_it_runs_again_with_the_same_results()
    {
        using var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 2);
        var expected = engine.Run(Items(6)).Select(Describe).ToList();

        using var cancel = new CancellationTokenSource();
        async Task CancelAfterFirst()
        {
            await foreach (var output in engine.RunAsync(Trickle(Items(40)),
                                                         cancellationToken: cancel.Token)) cancel.Cancel();
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CancelAfterFirst().WaitAsync(Deadlock));

        async Task<string> LeaveAfterFirst()
        {
            await foreach (var output in engine.RunAsync(Trickle(Items(40)))) return output.Id;
            return "";
        }
        Assert.Equal("r0", await LeaveAfterFirst().WaitAsync(Deadlock));

        Assert.Equal(expected, engine.Run(Items(6)).Select(Describe));
    }
}
