using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// <c>POST /v1/chat/completions</c>, for apps written against chat clients: the messages become one prompt through
/// the server's <see cref="ChatTemplate"/>, whose stop strings join the request's, and the reply comes back whole or
/// streamed as chat completion chunks, with <c>logprobs</c>/<c>top_logprobs</c> as the chat API reports them.
/// </summary>
internal static class ChatCompletionsEndpoint
{
    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    public static async Task HandleAsync(HttpContext context, CompletionEngine engine, ServerOptions options)
    {
        var fields = await RequestFields.ReadAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        ModelsEndpoint.CheckModel(fields, options);
        string promptText = options.ChatTemplate.Prompt(Messages(fields));
        var sampling = SamplingRequest.Read(fields, options, "max_completion_tokens", "max_tokens");
        bool logprobs = fields.Bool("logprobs") ?? false;
        int? top = fields.Int("top_logprobs", 0, options.MaxLogprobs);
        if (top != null && !logprobs) throw ApiError.Invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        sampling = sampling with { Stop = [.. sampling.Stop, .. options.ChatTemplate.Stop], Logprobs = logprobs ? top ?? 0 : null };
        int[] prompt = PromptIds.Encode(engine, promptText, sampling.TruncatePromptTokens, sampling.MaxTokens, "messages");

        using var run = new CompletionRun(engine, [prompt], sampling, context.RequestAborted);
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var tokenizer = engine.Model.Tokenizer;
        if (!sampling.Stream)
        {
            var results = await run.ResultsAsync(context.RequestAborted);
            var choices = results.Select((r, i) => new
            {
                index = i,
                message = new { role = "assistant", content = r.Result.Text },
                logprobs = logprobs ? Logprobs(r.Tokens, tokenizer) : null,
                finish_reason = CompletionRun.FinishReason(r.Result),
            });
            await context.Response.WriteAsJsonAsync(new
            {
                id, @object = "chat.completion", created, model = options.ModelName, choices,
                usage = CompletionsEndpoint.Usage([prompt], results.Sum(r => r.Result.TokenIds.Length)),
            }, context.RequestAborted);
            return;
        }

        ServerSentEvents.Begin(context.Response);
        object Chunk(int index, object delta, JsonObject? tokenLogprobs, string? finish) => new
        {
            id, @object = "chat.completion.chunk", created, model = options.ModelName,
            choices = new[] { new { index, delta, logprobs = tokenLogprobs, finish_reason = finish } },
        };
        for (int i = 0; i < run.Count; i++)
            await ServerSentEvents.WriteAsync(context.Response, Chunk(i, new { role = "assistant", content = "" }, null, null), context.RequestAborted);
        var streamed = new int[run.Count];
        int generated = 0;
        await foreach (var next in run.Events(context.RequestAborted))
        {
            if (next is TokenEvent token && (token.Text.Length > 0 || logprobs))
            {
                streamed[token.Choice] += token.Text.Length;
                await ServerSentEvents.WriteAsync(context.Response, Chunk(token.Choice, new { content = token.Text },
                                                                          logprobs ? Logprobs([token], tokenizer) : null, null),
                                                  context.RequestAborted);
            }
            else if (next is FinishedEvent { Output: var output } done)
            {
                if (output.Result is not { } result)
                {
                    await ServerSentEvents.WriteAsync(context.Response, new ApiError(500, output.Error ?? "no result").Body, context.RequestAborted);
                    continue;
                }
                generated += result.TokenIds.Length;
                string tail = result.Text[Math.Min(streamed[done.Choice], result.Text.Length)..];
                object delta = tail.Length > 0 ? new { content = tail } : new { };
                await ServerSentEvents.WriteAsync(context.Response, Chunk(done.Choice, delta, null, CompletionRun.FinishReason(result)),
                                                  context.RequestAborted);
            }
        }
        if (sampling.StreamUsage)
            await ServerSentEvents.WriteAsync(context.Response, new
            {
                id, @object = "chat.completion.chunk", created, model = options.ModelName, choices = Array.Empty<object>(),
                usage = CompletionsEndpoint.Usage([prompt], generated),
            }, context.RequestAborted);
        await ServerSentEvents.DoneAsync(context.Response, context.RequestAborted);
    }

    /// <summary>The messages as (role, text): content is a string or an array of text parts.</summary>
    private static List<(string Role, string Content)> Messages(RequestFields fields)
    {
        if (fields["messages"] is not JsonArray { Count: > 0 } messages)
            throw ApiError.Invalid("messages", "'messages' is required: an array of {\"role\", \"content\"} objects");
        var list = new List<(string, string)>();
        for (int i = 0; i < messages.Count; i++)
        {
            string at = $"messages[{i}]";
            if (messages[i] is not JsonObject message) throw ApiError.Invalid(at, $"'{at}' must be an object with a role and content");
            string role = message["role"] is JsonValue r && r.GetValueKind() == JsonValueKind.String ? r.GetValue<string>() : "";
            if (!Roles.Contains(role)) throw ApiError.Invalid($"{at}.role", $"'{at}.role' must be one of {string.Join(", ", Roles)}");
            list.Add((role, Content(message["content"], $"{at}.content")));
        }
        return list;
    }

    private static string Content(JsonNode? content, string at)
    {
        if (content is null) return "";
        if (content is JsonValue value && value.GetValueKind() == JsonValueKind.String) return value.GetValue<string>();
        if (content is not JsonArray parts) throw ApiError.Invalid(at, $"'{at}' must be a string or an array of text parts");
        var text = new StringBuilder();
        foreach (var part in parts)
        {
            if (part?["type"]?.GetValueKind() != JsonValueKind.String || part["type"]!.GetValue<string>() != "text"
                || part["text"]?.GetValueKind() != JsonValueKind.String)
                throw ApiError.Invalid(at, $"'{at}' may hold only {{\"type\": \"text\", \"text\": ...}} parts: GPT-2 reads text");
            text.Append(part["text"]!.GetValue<string>());
        }
        return text.ToString();
    }

    /// <summary>The chat API's log-probabilities: per token its text, log-probability, UTF-8 bytes, and the top k's.</summary>
    private static JsonObject Logprobs(IReadOnlyList<TokenEvent> tokens, Tokenizers.ITokenizer tokenizer)
    {
        JsonObject Entry(int id, float logprob)
        {
            string text = tokenizer.Decode([id]);
            return new JsonObject
            {
                ["token"] = text, ["logprob"] = logprob, ["bytes"] = new JsonArray(Encoding.UTF8.GetBytes(text).Select(b => (JsonNode)(int)b).ToArray()),
            };
        }
        var content = new JsonArray();
        foreach (var token in tokens)
        {
            var entry = Entry(token.Id, token.Logprobs!.Logprob);
            entry["top_logprobs"] = new JsonArray(token.Logprobs.Top.Select(t => (JsonNode)Entry(t.Id, t.Logprob)).ToArray());
            content.Add(entry);
        }
        return new JsonObject { ["content"] = content };
    }
}
