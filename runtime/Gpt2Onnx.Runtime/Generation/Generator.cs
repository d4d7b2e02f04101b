namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Generates continuations for a batch of prompts of different lengths, each with its own sampling
/// options, each stopping on its own (a static batch: it runs until its last sequence ends). The decoder
/// (and its cache) is kept between calls while it is big enough. Per token, the loop allocates nothing
/// unless text is streamed or stop strings are checked. Not thread-safe.
/// </summary>
public sealed class Generator : IDisposable
{
    private readonly LanguageModel _model;
    private Decoder? _decoder;

    public Generator(LanguageModel model) => _model = model;

    /// <summary>Tokens generated and seconds spent in the last call (prefill included), for throughput
    /// reports.</summary>
    public (int Tokens, double PrefillSeconds, double DecodeSeconds) LastRun { get; private set; }

    public GenerationResult Generate(GenerationRequest request, Action<string>? onText = null) =>
        Generate([request], onText == null ? null : (_, text) => onText(text))[0];

    /// <param name="onText">called with (request index, text piece) as whole characters become available</param>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests,
                                                    Action<int, string>? onText = null) =>
        Generate(requests, onText, null);

    /// <param name="observers">per request, one that follows it (its tokens, its cancellation) or null</param>
    internal IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests,
                                                      Action<int, string>? onText,
                                                      IReadOnlyList<SequenceObserver?>? observers)
    {
        int batch = requests.Count;
        if (batch == 0) return [];
        if (requests.Any(r => r.Options.Beams.Enabled)) return GenerateMixed(requests, onText, observers);
        var prompts = requests.Select(r => SequenceState.PromptIds(_model, r with { Options = r.Options.Validate() }))
            .ToArray();
        // Room for the longest prompt and the most new tokens (a left-padded batch needs both at once).
        long longest = prompts.Max(p => p.Length) + (long)requests.Max(r => r.Options.MaxNewTokens);
        int maxLength = (int)Math.Min(_model.ContextLength, longest);
        var decoder = DecoderFor(batch, maxLength);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        decoder.Prefill(prompts);
        double prefill = clock.Elapsed.TotalSeconds;
        var states = Enumerable.Range(0, batch)
            .Select(b => new SequenceState(_model, prompts[b], requests[b].Options, onText != null, decoder.Capacity(b),
                                           observers?[b]))
            .ToArray();
        foreach (var observer in observers ?? []) observer?.Started();
        var callbacks = Enumerable.Range(0, batch)
            .Select(b => onText == null ? null : (Action<string>)(text => onText(b, text))).ToArray();
        var next = new int[batch];
        var active = new bool[batch];
        int total = 0;
        while (true)
        {
            bool any = false;
            for (int b = 0; b < batch; b++)
            {
                if (states[b].CancellationRequested) states[b].Cancel();
                if (states[b].Done)
                {
                    next[b] = _model.EndOfTextId; // a finished sequence idles until the batch ends
                    active[b] = false;
                    continue;
                }
                next[b] = states[b].Next(decoder.Logits(b), decoder.Length(b), callbacks[b]);
                total++;
                active[b] = !states[b].Done;
                any |= active[b];
            }
            if (!any) break;
            decoder.Step(next, active); // finished rows are carried along but no longer advanced
        }
        LastRun = (total, prefill, clock.Elapsed.TotalSeconds - prefill);
        return states.Select((s, b) => s.Result(callbacks[b])).ToArray();
    }

    /// <summary>
    /// Runs each beam search request on its own (its beams are the batch) and the other requests together,
    /// returning results in request order. Beam search hands out its text once, when it is done.
    /// </summary>
    private IReadOnlyList<GenerationResult> GenerateMixed(IReadOnlyList<GenerationRequest> requests,
                                                          Action<int, string>? onText,
                                                          IReadOnlyList<SequenceObserver?>? observers)
    {
        var results = new GenerationResult[requests.Count];
        var others = Enumerable.Range(0, requests.Count).Where(i => !requests[i].Options.Beams.Enabled).ToList();
        var (tokens, prefill, decode) = (0, 0.0, 0.0);
        if (others.Count > 0)
        {
            var sampled = Generate(others.Select(i => requests[i]).ToList(),
                                   onText == null ? null : (k, text) => onText(others[k], text),
                                   observers == null ? null : others.Select(i => observers[i]).ToList());
            for (int k = 0; k < others.Count; k++) results[others[k]] = sampled[k];
            (tokens, prefill, decode) = LastRun;
        }
        for (int i = 0; i < requests.Count; i++)
        {
            if (results[i] != null) continue;
            results[i] = SearchBeams(requests[i]);
            onText?.Invoke(i, results[i].Text);
            (tokens, prefill, decode) = (tokens + LastRun.Tokens, prefill + LastRun.PrefillSeconds,
                                         decode + LastRun.DecodeSeconds);
        }
        LastRun = (tokens, prefill, decode);
        return results;
    }

    /// <summary>Beam search for one request, its beams one batch of the decoder.</summary>
    private GenerationResult SearchBeams(GenerationRequest request)
    {
        var options = request.Options.Validate();
        var prompt = SequenceState.PromptIds(_model, request with { Options = options });
        int maxLength = (int)Math.Min(_model.ContextLength, prompt.Length + (long)options.MaxNewTokens);
        var search = new Beams.BeamSearch(_model, DecoderFor(options.Beams.NumBeams, maxLength), options);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = search.Run(prompt);
        LastRun = (search.Steps, 0, clock.Elapsed.TotalSeconds);
        return result;
    }

    private Decoder DecoderFor(int batch, int maxLength)
    {
        if (_decoder == null || _decoder.MaxBatch < batch || _decoder.MaxLength < maxLength)
        {
            _decoder?.Dispose();
            _decoder = _model.CreateDecoder(batch, maxLength);
        }
        return _decoder;
    }

    public void Dispose() => _decoder?.Dispose();
}
