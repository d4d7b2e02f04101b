using System.Text.Json.Nodes;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// <c>POST /v1/completions</c>: OpenAI's (legacy) completions, a prompt or an array of prompts continued, whole or
/// streamed, with <c>logprobs</c> (the chosen tokens' and the top k's) and <c>echo</c>.
/// </summary>
internal static class CompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext context, CompletionEngine engine, ServerOptions options)
    {
        var fields = await RequestFields.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        ModelsEndpoint.CheckModel(fields, options);
        var texts = fields.Strings("prompt", options.MaxPrompts)
                    ?? throw ApiError.Invalid("prompt", "'prompt' is required: a string or an array of strings");
        if (texts.Count == 0) throw ApiError.Invalid("prompt", "'prompt' must hold at least one string");
        var sampling = SamplingRequest.Read(fields, options, "max_tokens") with { Logprobs = fields.Int("logprobs", 0, options.MaxLogprobs) };
        bool echo = fields.Bool("echo") ?? false;
        if (echo && sampling.Logprobs != null)
            throw ApiError.Invalid("echo", "echo with logprobs would need the prompt's log-probabilities, which this server does not compute: drop one");
        var prompts = texts.Select(t => PromptIds.Encode(engine, t, sampling.TruncatePromptTokens, sampling.MaxTokens, "prompt")).ToList();

        using var run = new CompletionRun(engine, prompts, sampling, context.RequestAborted);
        string id = $"cmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var tokenizer = engine.Model.Tokenizer;
        if (!sampling.Stream)
        {
            var results = await run.ResultsAsync(context.RequestAborted);
            var choices = results.Select((r, i) => new
            {
                text = (echo ? texts[i / sampling.N] : "") + r.Result.Text,
                index = i,
                logprobs = sampling.Logprobs == null ? null : Logprobs(r.Tokens, tokenizer),
                finish_reason = CompletionRun.FinishReason(r.Result),
            });
            int completionTokens = results.Sum(r => r.Result.TokenIds.Length);
            await context.Response.WriteAsJsonAsync(new
            {
                id, @object = "text_completion", created, model = options.ModelName, choices,
                usage = Usage(prompts, completionTokens),
            }, context.RequestAborted);
            return;
        }

        ServerSentEvents.Begin(context.Response);
        object Chunk(int index, string text, JsonObject? logprobs, string? finish) => new
        {
            id, @object = "text_completion", created, model = options.ModelName,
            choices = new[] { new { text, index, logprobs, finish_reason = finish } },
        };
        if (echo)
            for (int i = 0; i < run.Count; i++)
                await ServerSentEvents.WriteAsync(context.Response, Chunk(i, texts[i / sampling.N], null, null), context.RequestAborted);
        var streamed = new int[run.Count];
        int generated = 0;
        await foreach (var next in run.Events(context.RequestAborted))
        {
            if (next is TokenEvent token && (token.Text.Length > 0 || sampling.Logprobs != null))
            {
                streamed[token.Choice] += token.Text.Length;
                var logprobs = sampling.Logprobs == null ? null : Logprobs([token], tokenizer);
                await ServerSentEvents.WriteAsync(context.Response, Chunk(token.Choice, token.Text, logprobs, null), context.RequestAborted);
            }
            else if (next is FinishedEvent { Output: var output } done)
            {
                if (output.Result is not { } result)
                {
                    var error = new ApiError(500, output.Error ?? "the sequence ended without a result");
                    await ServerSentEvents.WriteAsync(context.Response, error.Body, context.RequestAborted);
                    continue;
                }
                generated += result.TokenIds.Length;
                // What the text held back at the end (a character or a possible stop string that never completed).
                string tail = result.Text[Math.Min(streamed[done.Choice], result.Text.Length)..];
                await ServerSentEvents.WriteAsync(context.Response, Chunk(done.Choice, tail, null, CompletionRun.FinishReason(result)),
                                                  context.RequestAborted);
            }
        }
        if (sampling.StreamUsage)
            await ServerSentEvents.WriteAsync(context.Response, new
            {
                id, @object = "text_completion", created, model = options.ModelName, choices = Array.Empty<object>(),
                usage = Usage(prompts, generated),
            }, context.RequestAborted);
        await ServerSentEvents.DoneAsync(context.Response, context.RequestAborted);
    }

    public static object Usage(IReadOnlyList<int[]> prompts, int completionTokens)
    {
        int promptTokens = prompts.Sum(p => p.Length);
        return new { prompt_tokens = promptTokens, completion_tokens = completionTokens, total_tokens = promptTokens + completionTokens };
    }

    /// <summary>OpenAI's completions log-probabilities: each token's text, its log-probability, the top k's, and where its text starts.</summary>
    private static JsonObject Logprobs(IReadOnlyList<TokenEvent> tokens, Tokenizers.ITokenizer tokenizer)
    {
        var texts = new JsonArray();
        var logprobs = new JsonArray();
        var tops = new JsonArray();
        var offsets = new JsonArray();
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
        return new JsonObject { ["tokens"] = texts, ["token_logprobs"] = logprobs, ["top_logprobs"] = tops, ["text_offset"] = offsets };
    }
}
