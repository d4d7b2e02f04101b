using System.Text;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Generates continuations for a batch of prompts of different lengths, each with its own sampling
/// options, each stopping on its own. The decoder (and its cache) is kept between calls while it is big
/// enough. Per token, the loop allocates nothing unless text is streamed or stop strings are checked.
/// Not thread-safe.
/// </summary>
public sealed class Generator : IDisposable
{
    private readonly LanguageModel _model;
    private Decoder? _decoder;

    public Generator(LanguageModel model) => _model = model;

    /// <summary>Tokens generated and seconds spent in the last call (prefill included), for throughput reports.</summary>
    public (int Tokens, double PrefillSeconds, double DecodeSeconds) LastRun { get; private set; }

    public GenerationResult Generate(GenerationRequest request, Action<string>? onText = null) =>
        Generate([request], onText == null ? null : (_, text) => onText(text))[0];

    /// <param name="onText">called with (request index, text piece) as whole characters become available</param>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests, Action<int, string>? onText = null)
    {
        int batch = requests.Count;
        var prompts = new int[batch][];
        var samplers = new Sampler[batch];
        var stops = new HashSet<int>[batch];
        for (int b = 0; b < batch; b++)
        {
            var options = requests[b].Options.Validate();
            prompts[b] = PromptIds(requests[b]);
            stops[b] = [.. options.StopTokenIds, _model.EndOfTextId];
            samplers[b] = new Sampler(_model.VocabSize, options, stops[b].ToArray());
            samplers[b].Reset(prompts[b]);
        }
        int maxLength = Enumerable.Range(0, batch).Max(b => Math.Min(_model.ContextLength, prompts[b].Length + requests[b].Options.MaxNewTokens));
        maxLength = Math.Max(maxLength, prompts.Max(p => p.Length));
        var decoder = DecoderFor(batch, maxLength);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        decoder.Prefill(prompts);
        double prefill = clock.Elapsed.TotalSeconds;

        var generated = requests.Select(r => new List<int>(r.Options.MaxNewTokens)).ToArray();
        var finish = new string?[batch];
        var texts = new StringBuilder?[batch];
        var decoders = new StreamingDecoder?[batch];
        var emitted = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            if (onText != null || requests[b].Options.StopStrings.Count > 0)
            {
                texts[b] = new StringBuilder();
                decoders[b] = _model.Tokenizer.CreateStreamingDecoder();
            }
            if (requests[b].Options.MaxNewTokens == 0) finish[b] = FinishReasons.Length;
        }
        var next = new int[batch];
        int total = 0;
        while (true)
        {
            bool any = false;
            for (int b = 0; b < batch; b++)
            {
                if (finish[b] != null)
                {
                    next[b] = _model.EndOfTextId; // a finished sequence idles until the batch ends
                    continue;
                }
                int token = samplers[b].Next(decoder.Logits(b));
                next[b] = token;
                total++;
                var options = requests[b].Options;
                if (stops[b].Contains(token) && generated[b].Count >= options.MinNewTokens)
                {
                    finish[b] = FinishReasons.Stop;
                }
                else
                {
                    generated[b].Add(token);
                    if (texts[b] != null) finish[b] = AppendText(b, token, options, texts[b]!, decoders[b]!, ref emitted[b], onText);
                    if (finish[b] == null && generated[b].Count >= options.MaxNewTokens) finish[b] = FinishReasons.Length;
                    if (finish[b] == null && decoder.Length(b) + 1 >= maxLength) finish[b] = FinishReasons.Length;
                }
                any |= finish[b] == null;
            }
            if (!any) break;
            decoder.Step(next.AsSpan(0, batch));
        }
        LastRun = (total, prefill, clock.Elapsed.TotalSeconds - prefill);

        var results = new GenerationResult[batch];
        for (int b = 0; b < batch; b++)
        {
            string text;
            if (texts[b] != null)
            {
                if (finish[b] != FinishReasons.StopString)
                {
                    texts[b]!.Append(decoders[b]!.Flush());
                    Emit(b, texts[b]!, texts[b]!.Length, ref emitted[b], onText);
                }
                text = texts[b]!.ToString();
            }
            else
            {
                text = _model.Tokenizer.Decode(generated[b].ToArray());
            }
            results[b] = new GenerationResult(prompts[b], generated[b].ToArray(), text, finish[b]!);
        }
        return results;
    }

    /// <summary>Adds a token's text; returns StopString when a stop string appeared (the text is cut before it).</summary>
    private static string? AppendText(int row, int token, SamplingOptions options, StringBuilder text, StreamingDecoder decoder, ref int emitted,
                                      Action<int, string>? onText)
    {
        decoder.AppendTo(token, text);
        int holdBack = 0;
        foreach (var stop in options.StopStrings)
        {
            int searchFrom = Math.Max(0, emitted - stop.Length);
            int at = text.ToString(searchFrom, text.Length - searchFrom).IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0)
            {
                text.Length = searchFrom + at;
                Emit(row, text, text.Length, ref emitted, onText);
                return FinishReasons.StopString;
            }
            holdBack = Math.Max(holdBack, stop.Length - 1); // the text's end may be the start of a stop string
        }
        Emit(row, text, text.Length - holdBack, ref emitted, onText);
        return null;
    }

    private static void Emit(int row, StringBuilder text, int upTo, ref int emitted, Action<int, string>? onText)
    {
        if (onText == null || upTo <= emitted) return;
        onText(row, text.ToString(emitted, upTo - emitted));
        emitted = upTo;
    }

    private int[] PromptIds(GenerationRequest request)
    {
        var ids = new List<int>();
        if (request.PromptIds != null)
        {
            foreach (int id in request.PromptIds)
                if (id < 0 || id >= _model.VocabSize) throw new Gpt2OnnxException($"the prompt id {id} is outside the vocabulary (0..{_model.VocabSize - 1})");
            ids.AddRange(request.PromptIds);
        }
        else
        {
            _model.Tokenizer.Encode(request.Prompt ?? "", ids);
        }
        if (ids.Count == 0) ids.Add(_model.EndOfTextId); // an empty prompt starts a new text
        if (request.TruncatePromptLeft)
        {
            // Keep the prompt's end, leaving room for the new tokens.
            int keep = _model.ContextLength - Math.Min(request.Options.MaxNewTokens, _model.ContextLength - 1);
            if (ids.Count > keep) ids.RemoveRange(0, ids.Count - keep);
        }
        else if (ids.Count >= _model.ContextLength)
        {
            throw new Gpt2OnnxException($"the prompt has {ids.Count} tokens, which leaves no room in the model's context of {_model.ContextLength}: " +
                                        "shorten it, or allow left truncation (--truncate)");
        }
        return ids.ToArray();
    }

    private Decoder DecoderFor(int batch, int maxLength)
    {
        if (_decoder == null || _decoder.MaxBatchSize < batch || _decoder.MaxLengthSize < maxLength)
        {
            _decoder?.Dispose();
            _decoder = _model.CreateDecoder(batch, maxLength);
        }
        return _decoder;
    }

    public void Dispose() => _decoder?.Dispose();
}
