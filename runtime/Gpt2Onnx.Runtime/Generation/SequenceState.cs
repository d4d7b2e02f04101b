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

    public SequenceState(LanguageModel model, int[] prompt, SamplingOptions options, bool streams, int maxTotal)
    {
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

    /// <summary>Chooses the next token from <paramref name="logits"/>; returns it (to feed back unless <see cref="Done"/>).</summary>
    public int Next(Span<float> logits, int lengthInCache, Action<string>? onText)
    {
        int token = _sampler.Next(logits);
        if (_stops.Contains(token) && _generated.Count >= _options.MinNewTokens)
        {
            Finish = FinishReasons.Stop;
            return token;
        }
        _generated.Add(token);
        // Stop strings count only from the minimum length on, like stop tokens.
        if (_text != null && _text.Append(token, onText, watchStops: _generated.Count >= _options.MinNewTokens)) Finish = FinishReasons.StopString;
        if (Finish == null && _generated.Count >= _options.MaxNewTokens) Finish = FinishReasons.Length;
        if (Finish == null && lengthInCache + 1 >= _maxTotal) Finish = FinishReasons.Length;
        return token;
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
                if (id < 0 || id >= model.VocabSize) throw new Gpt2OnnxException($"the prompt id {id} is outside the vocabulary (0..{model.VocabSize - 1})");
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
