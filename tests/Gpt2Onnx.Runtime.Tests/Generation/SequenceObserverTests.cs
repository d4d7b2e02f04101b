using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>
/// The batch engine's per-request hooks a server stands on: every token reported as it comes, the request's end
/// reported at once, log-probabilities of the model's own distribution, and cancellation that frees the slot.
/// </summary>
public sealed class SequenceObserverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _fused, _portable;

    public SequenceObserverTests() => (_, _portable, _fused) = TinyModel.Export(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Records what the engine reports; cancels after <paramref name="cancelAfter"/> tokens.</summary>
    private sealed class Recorder(int? topLogprobs = null, int cancelAfter = int.MaxValue) : SequenceObserver
    {
        private readonly CancellationTokenSource _cancel = new();
        public int Starts;
        public readonly List<int> Ids = [];
        public readonly List<string> Pieces = [];
        public readonly List<TokenLogprobs?> Logprobs = [];
        public readonly List<BatchOutput> Outputs = [];

        public override CancellationToken Cancellation => _cancel.Token;
        public override int? TopLogprobs => topLogprobs;
        public override void Started() => Starts++;

        public override void Token(int id, string text, TokenLogprobs? logprobs)
        {
            Ids.Add(id);
            Pieces.Add(text);
            Logprobs.Add(logprobs);
            if (Ids.Count == cancelAfter) _cancel.Cancel();
        }

        public override void Finished(BatchOutput output) => Outputs.Add(output);
        public void Cancel() => _cancel.Cancel();
    }

    private static BatchItem Item(string id, Recorder observer, int maxNewTokens = 12, int minNewTokens = 0) =>
        new(id, new GenerationRequest
        {
            Prompt = "the quick",
            Options = new SamplingOptions
            {
                MaxNewTokens = maxNewTokens, MinNewTokens = minNewTokens, Temperature = 0.9, Seed = 7,
                StopStrings = ["zz"],
            },
        }) { Observer = observer };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_observer_sees_every_token_its_text_and_the_output_once(bool fused)
    {
        using var model = LanguageModel.Load(fused ? _fused : _portable, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 2);
        var observers = Enumerable.Range(0, 3).Select(_ => new Recorder()).ToList();
        var outputs = engine.Run(observers.Select((o, i) => Item($"r{i}", o, maxNewTokens: 4 + 3 * i))).ToList();
        for (int i = 0; i < 3; i++)
        {
            var observer = observers[i];
            var result = outputs[i].Result!;
            Assert.Equal(1, observer.Starts);
            Assert.Same(outputs[i], Assert.Single(observer.Outputs));
            Assert.Equal(result.TokenIds, observer.Ids);
            // The pieces are the final text as it grew: they begin it, and the output holds the rest.
            Assert.StartsWith(string.Concat(observer.Pieces), result.Text);
            Assert.All(observer.Logprobs, Assert.Null);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_request_cancelled_mid_way_ends_at_the_next_step_and_frees_its_slot(bool fused)
    {
        using var model = LanguageModel.Load(fused ? _fused : _portable, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 1);
        var cancelled = new Recorder(cancelAfter: 3);
        var next = new Recorder();
        // Thirty tokens at least, but the observer cancels after its third: the slot goes to the next request.
        var outputs = engine.Run([Item("long", cancelled, maxNewTokens: 30, minNewTokens: 30), Item("next", next, 5)])
            .ToList();
        Assert.Equal(FinishReasons.Cancelled, outputs[0].Result!.FinishReason);
        Assert.Equal(3, outputs[0].Result!.TokenIds.Length);
        Assert.NotNull(outputs[1].Result);
        Assert.NotEqual(FinishReasons.Cancelled, outputs[1].Result!.FinishReason);
        Assert.Equal(1, next.Starts);
    }

    [Fact]
    public void A_request_cancelled_before_it_gets_a_slot_never_starts()
    {
        using var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 1);
        var waiting = new Recorder();
        waiting.Cancel();
        var output = Assert.Single(engine.Run([Item("gone", waiting)]));
        Assert.Equal(BatchEngine.CancelledBeforeStart, output.Error);
        Assert.Equal(0, waiting.Starts);
        Assert.Empty(waiting.Ids);
    }

    [Fact]
    public void Log_probabilities_are_the_log_softmax_of_the_models_logits()
    {
        using var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 });
        using var engine = new BatchEngine(model, maxBatch: 2);
        var observer = new Recorder(topLogprobs: 3);
        var result = engine.Run([Item("r", observer, maxNewTokens: 1)]).Single().Result!;
        // The first token's distribution, from a plain forward pass over the prompt: its last row of logits.
        var all = model.SequenceLogits(result.PromptIds);
        var last = all.AsSpan(all.Length - model.VocabSize, model.Tokenizer.VocabSize).ToArray();
        double logSum = Math.Log(last.Sum(l => Math.Exp(l - last.Max()))) + last.Max();
        var logprobs = Assert.Single(observer.Logprobs)!;
        Assert.Equal(last[result.TokenIds[0]] - logSum, logprobs.Logprob, 3);
        var expectedTop = last.Select((l, id) => (Id: id, Logit: l)).OrderByDescending(t => t.Logit).ThenBy(t => t.Id)
            .Take(3).ToList();
        Assert.Equal(expectedTop.Select(t => t.Id), logprobs.Top.Select(t => t.Id));
        Assert.Equal(expectedTop.Select(t => t.Logit - logSum), logprobs.Top.Select(t => (double)t.Logprob),
                     new ToleranceComparer(1e-3));
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double value) => 0;
    }
}
