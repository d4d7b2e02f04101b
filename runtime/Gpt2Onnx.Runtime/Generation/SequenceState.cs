using System.Numerics.Tensors;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// One sequence being generated: its sampler, the tokens so far, why it stopped, and (when text is streamed
/// or stop strings are watched) its text. Shared by <see cref="Generator"/> and <see cref="BatchEngine"/>.
/// </summary>
internal sealed class SequenceState
{
    private readonly SamplingOptions _options;
    private readonly HashSet<int> _stops;
    private readonly Sampler _sampler;
    private readonly List<int> _generated;
    private readonly GeneratedText? _text;
    private readonly ITokenizer _tokenizer;
    private readonly int _maxTotal;
    private readonly SequenceObserver? _observer;
    private readonly StringBuilder _piece = new();
    private readonly float[]? _rawLogits; // the model's logits of this step, kept for log-probabilities
    private readonly int _decodable;
    private readonly Action<string> _collect;

    public SequenceState(LanguageModel model, int[] prompt, SamplingOptions options, bool streams, int maxTotal,
                         SequenceObserver? observer = null)
    {
        _observer = observer;
        _collect = piece => _piece.Append(piece);
        _decodable = Math.Min(model.VocabSize, model.Tokenizer.VocabSize);
        if (observer?.TopLogprobs != null) _rawLogits = new float[model.VocabSize];
        streams |= observer != null;
        _options = options;
        _tokenizer = model.Tokenizer;
        Prompt = prompt;
        _maxTotal = maxTotal;
        _stops = [.. options.StopTokenIds, model.EndOfTextId];
        _sampler = new Sampler(model.VocabSize, options, _stops.ToArray(), decodableIds: model.Tokenizer.VocabSize);
        _sampler.Reset(prompt);
        _generated = new List<int>(Math.Min(options.MaxNewTokens, maxTotal)); // no sequence outgrows the cache
        if (streams || options.StopStrings.Count > 0) _text = new GeneratedText(model.Tokenizer, options.StopStrings);
        if (options.MaxNewTokens == 0) Finish = FinishReasons.Length;
    }

    public int[] Prompt { get; }
    public string? Finish { get; private set; }
    public bool Done => Finish != null;

    /// <summary>Chooses the next token from <paramref name="logits"/>; returns it (to feed back unless <see
    /// cref="Done"/>).</summary>
    public int Next(Span<float> logits, int lengthInCache, Action<string>? onText)
    {
        if (_rawLogits != null) logits.CopyTo(_rawLogits); // the sampler overwrites the logits as scratch
        int token = _sampler.Next(logits);
        if (_stops.Contains(token) && _generated.Count >= _options.MinNewTokens)
        {
            Finish = FinishReasons.Stop;
            return token;
        }
        _generated.Add(token);
        if (_observer != null) onText = onText == null ? _collect : onText + _collect;
        // Stop strings count only from the minimum length on, like stop tokens.
        if (_text != null && _text.Append(token, onText, watchStops: _generated.Count >= _options.MinNewTokens))
            Finish = FinishReasons.StopString;
        if (Finish == null && _generated.Count >= _options.MaxNewTokens) Finish = FinishReasons.Length;
        if (Finish == null && lengthInCache + 1 >= _maxTotal) Finish = FinishReasons.Length;
        if (_observer != null)
        {
            var logprobs = _rawLogits == null ? null : Logprobs(token, _observer.TopLogprobs ?? 0);
            _observer.Token(token, _piece.ToString(), logprobs);
            _piece.Clear();
        }
        return token;
    }

    /// <summary>Ends the sequence where it is (its tokens so far are its result), unless it already ended.</summary>
    public void Cancel() => Finish ??= FinishReasons.Cancelled;

    /// <summary>Whether its observer asked to end it.</summary>
    public bool CancellationRequested => _observer?.Cancellation.IsCancellationRequested == true;

    /// <summary>
    /// The chosen token's log-softmax over the decodable ids of the model's logits, and the <paramref name="top"/>
    /// most likely ids' (ties to the lower id). Allocates, once per token: only requests that ask for it pay.
    /// </summary>
    private TokenLogprobs Logprobs(int token, int top)
    {
        var raw = _rawLogits.AsSpan(0, _decodable);
        float max = TensorPrimitives.Max(raw);
        double sum = 0;
        foreach (float logit in raw) sum += Math.Exp(logit - max);
        float logSum = max + (float)Math.Log(sum);
        var best = new List<(int Id, float Logprob)>(top + 1);
        for (int id = 0; id < raw.Length && top > 0; id++)
        {
            if (best.Count == top && raw[id] <= best[^1].Logprob) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Logprob < raw[id]) at--;
            best.Insert(at, (id, raw[id]));
            if (best.Count > top) best.RemoveAt(top);
        }
        for (int i = 0; i < best.Count; i++) best[i] = (best[i].Id, best[i].Logprob - logSum);
        return new TokenLogprobs(_rawLogits![token] - logSum, best);
    }

    public GenerationResult Result(Action<string>? onText)
    {
        string text = _text?.Complete(onText) ?? _tokenizer.Decode(_generated.ToArray());
        return new GenerationResult(Prompt, _generated.ToArray(), text, Finish ?? FinishReasons.Length);
    }

    /// <summary>
    /// The prompt's ids: the given ids, or the encoded text; empty becomes end-of-text; checked against the
    /// context, as are the counts of new tokens (no sequence holds more tokens than the context).
    /// </summary>
    public static int[] PromptIds(LanguageModel model, GenerationRequest request)
    {
        CheckCounts(request.Options, model.ContextLength);
        if (request.PromptIds != null && request.Prompt != null)
            throw new Gpt2OnnxException("a request gives both Prompt and PromptIds: give one of them");
        var ids = new List<int>();
        if (request.PromptIds != null)
        {
            foreach (int id in request.PromptIds)
                if (id < 0 || id >= model.VocabSize)
                    throw new Gpt2OnnxException($"the prompt id {id} is outside the vocabulary " +
                                                $"(0..{model.VocabSize - 1})");
            ids.AddRange(request.PromptIds);
        }
        else
        {
            model.Tokenizer.Encode(request.Prompt ?? "", ids);
        }
        if (ids.Count == 0) ids.Add(model.EndOfTextId); // an empty prompt starts a new text
        GenerationRequest.FitPrompt(ids, model.ContextLength, request.Options.MaxNewTokens, request.TruncatePromptLeft);
        return ids.ToArray();
    }

    /// <summary>
    /// Refuses max (and so min) new tokens beyond the model's context: generation ends at the context's end, so a
    /// larger count can never be reached, and one of billions is a mistake, not a request.
    /// </summary>
    public static void CheckCounts(SamplingOptions options, int contextLength)
    {
        if (options.MaxNewTokens > contextLength)
            throw new Gpt2OnnxException($"max new tokens {options.MaxNewTokens} is more than the model's context of " +
                                        $"{contextLength} tokens, which generation never passes: ask for at most " +
                                        $"{contextLength}");
    }
}
