using System.Text.Json.Nodes;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// <c>POST /v1/completions</c>: OpenAI's (legacy) completions, a prompt or an array of prompts continued, whole or
/// streamed, with <c>logprobs</c> (the chosen tokens' and the top k's) and <c>echo</c>.
/// </summary>
internal static class CompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext context, CompletionEngine engine, ServerOptions options)
    {
        var aborted = context.RequestAborted;
        var fields = await RequestFields.ReadAsync(context.Request, options.MaxBodyBytes, aborted);
        ModelsEndpoint.CheckModel(fields, options);
        var texts = fields.Strings("prompt", options.MaxPrompts)
                    ?? throw ApiError.Invalid("prompt", "'prompt' is required: a string or an array of strings");
        if (texts.Count == 0) throw ApiError.Invalid("prompt", "'prompt' must hold at least one string");
        var sampling = SamplingRequest.Read(fields, options, "max_tokens")
                       with { Logprobs = fields.Int("logprobs", 0, options.MaxLogprobs) };
        bool echo = fields.Bool("echo") ?? false;
        if (echo && sampling.Logprobs != null)
            throw ApiError.Invalid("echo", "echo with logprobs needs the prompt's log-probabilities, which this " +
                                           "server does not compute: drop one of them");
        var prompts = texts.Select(t => PromptIds.Encode(engine, t, sampling, "prompt")).ToList();

        using var run = new CompletionRun(engine, prompts, sampling, aborted);
        string id = $"cmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var tokenizer = engine.Model.Tokenizer;
        JsonObject? Logprobs(IReadOnlyList<TokenEvent> tokens) =>
            sampling.Logprobs == null ? null : LogprobsOf(tokens, tokenizer);
        if (!sampling.Stream)
        {
            var results = await run.ResultsAsync(aborted);
            var choices = results.Select((r, i) => new
            {
                text = (echo ? texts[i / sampling.N] : "") + r.Result.Text,
                index = i,
                logprobs = Logprobs(r.Tokens),
                finish_reason = CompletionRun.FinishReason(r.Result),
            });
            var usage = Usage(prompts, results.Sum(r => r.Result.TokenIds.Length));
            var answer = new { id, @object = "text_completion", created, model = options.ModelName, choices, usage };
            await context.Response.WriteAsJsonAsync(answer, aborted);
            return;
        }

        var response = context.Response;
        ServerSentEvents.Begin(response);
        object Chunk(int index, string text, JsonObject? logprobs, string? finish) => new
        {
            id, @object = "text_completion", created, model = options.ModelName,
            choices = new[] { new { text, index, logprobs, finish_reason = finish } },
        };
        if (echo)
            for (int i = 0; i < run.Count; i++)
                await ServerSentEvents.WriteAsync(response, Chunk(i, texts[i / sampling.N], null, null), aborted);
        int generated = await run.StreamAsync(response, sampling.Logprobs != null,
            token => Chunk(token.Choice, token.Text, Logprobs([token]), null),
            (choice, tail, finish) => Chunk(choice, tail, null, finish), aborted);
        if (sampling.StreamUsage)
        {
            var usage = Usage(prompts, generated);
            var choices = Array.Empty<object>();
            var last = new { id, @object = "text_completion", created, model = options.ModelName, choices, usage };
            await ServerSentEvents.WriteAsync(response, last, aborted);
        }
        await ServerSentEvents.DoneAsync(response, aborted);
    }

    public static object Usage(IReadOnlyList<int[]> prompts, int completionTokens)
    {
        int promptTokens = prompts.Sum(p => p.Length);
        int total = promptTokens + completionTokens;
        return new { prompt_tokens = promptTokens, completion_tokens = completionTokens, total_tokens = total };
    }

    /// <summary>
    /// OpenAI's completions log-probabilities: each token's text, its log-probability, the top k's, and where its
    /// text starts.
    /// </summary>
    private static JsonObject LogprobsOf(IReadOnlyList<TokenEvent> tokens, Tokenizers.ITokenizer tokenizer)
    {
        JsonArray texts = [], logprobs = [], tops = [], offsets = [];
        int offset = 0;
        foreach (var token in tokens)
        {
            string text = tokenizer.Decode([token.Id]);
            texts.Add(text);
            logprobs.Add(token.Logprobs!.Logprob);
            var top = new JsonObject();
            foreach (var (id, logprob) in token.Logprobs.Top) top[tokenizer.Decode([id])] = logprob;
            tops.Add(top);
            offsets.Add(offset);
            offset += text.Length;
        }
        return new JsonObject
        {
            ["tokens"] = texts, ["token_logprobs"] = logprobs, ["top_logprobs"] = tops, ["text_offset"] = offsets,
        };
    }
}
