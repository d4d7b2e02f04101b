using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// <c>POST /v1/chat/completions</c>, for apps written against chat clients: the messages become one prompt through
/// the server's <see cref="ChatTemplate"/>, whose stop strings join the request's, and the reply comes back whole
/// or streamed as chat completion chunks, with <c>logprobs</c>/<c>top_logprobs</c> as the chat API reports them.
/// </summary>
internal static class ChatCompletionsEndpoint
{
    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    public static async Task HandleAsync(HttpContext context, CompletionEngine engine, ServerOptions options)
    {
        var aborted = context.RequestAborted;
        var fields = await RequestFields.ReadAsync(context.Request, options.MaxBodyBytes, aborted);
        ModelsEndpoint.CheckModel(fields, options);
        string promptText = options.ChatTemplate.Prompt(Messages(fields));
        var sampling = SamplingRequest.Read(fields, options, "max_completion_tokens", "max_tokens");
        bool logprobs = fields.Bool("logprobs") ?? false;
        int? top = fields.Int("top_logprobs", 0, options.MaxLogprobs);
        if (top != null && !logprobs) throw ApiError.Invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        sampling = sampling with
        {
            Stop = [.. sampling.Stop, .. options.ChatTemplate.Stop],
            Logprobs = logprobs ? top ?? 0 : null,
        };
        int[] prompt = PromptIds.Encode(engine, promptText, sampling, "messages");

        using var run = new CompletionRun(engine, [prompt], sampling, aborted);
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var tokenizer = engine.Model.Tokenizer;
        if (!sampling.Stream)
        {
            var results = await run.ResultsAsync(aborted);
            var choices = results.Select((r, i) => new
            {
                index = i,
                message = new { role = "assistant", content = r.Result.Text },
                logprobs = logprobs ? LogprobsOf(r.Tokens, tokenizer) : null,
                finish_reason = CompletionRun.FinishReason(r.Result),
            });
            var usage = CompletionsEndpoint.Usage([prompt], results.Sum(r => r.Result.TokenIds.Length));
            var answer = new { id, @object = "chat.completion", created, model = options.ModelName, choices, usage };
            await context.Response.WriteAsJsonAsync(answer, aborted);
            return;
        }

        var response = context.Response;
        ServerSentEvents.Begin(response);
        object Chunk(int index, object delta, JsonObject? tokenLogprobs, string? finish) => new
        {
            id, @object = "chat.completion.chunk", created, model = options.ModelName,
            choices = new[] { new { index, delta, logprobs = tokenLogprobs, finish_reason = finish } },
        };
        for (int i = 0; i < run.Count; i++)
            await ServerSentEvents.WriteAsync(response, Chunk(i, new { role = "assistant", content = "" }, null, null),
                                              aborted);
        int generated = await run.StreamAsync(response, logprobs,
            token => Chunk(token.Choice, new { content = token.Text }, logprobs ? LogprobsOf([token], tokenizer) : null,
                           null),
            (choice, tail, finish) => Chunk(choice, tail.Length > 0 ? new { content = tail } : new { }, null, finish),
            aborted);
        if (sampling.StreamUsage)
        {
            var usage = CompletionsEndpoint.Usage([prompt], generated);
            var choices = Array.Empty<object>();
            var last = new { id, @object = "chat.completion.chunk", created, model = options.ModelName, choices,
                             usage };
            await ServerSentEvents.WriteAsync(response, last, aborted);
        }
        await ServerSentEvents.DoneAsync(response, aborted);
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
            if (messages[i] is not JsonObject message)
                throw ApiError.Invalid(at, $"'{at}' must be an object with a role and content");
            var roleNode = message["role"];
            string role = roleNode?.GetValueKind() == JsonValueKind.String ? roleNode.GetValue<string>() : "";
            if (!Roles.Contains(role))
                throw ApiError.Invalid($"{at}.role", $"'{at}.role' must be one of {string.Join(", ", Roles)}");
            list.Add((role, Content(message["content"], $"{at}.content")));
        }
        return list;
    }

    private static string Content(JsonNode? content, string at)
    {
        if (content is null) return "";
        if (content is JsonValue value && value.GetValueKind() == JsonValueKind.String) return value.GetValue<string>();
        if (content is not JsonArray parts)
            throw ApiError.Invalid(at, $"'{at}' must be a string or an array of text parts");
        var text = new StringBuilder();
        foreach (var part in parts)
        {
            if (part?["type"]?.GetValueKind() != JsonValueKind.String || part["type"]!.GetValue<string>() != "text"
                || part["text"]?.GetValueKind() != JsonValueKind.String)
                throw ApiError.Invalid(at, $"'{at}' may hold only {{\"type\": \"text\", \"text\": ...}} parts: " +
                                           "GPT-2 reads text");
            text.Append(part["text"]!.GetValue<string>());
        }
        return text.ToString();
    }

    /// <summary>The chat API's log-probabilities: per token its text, logprob, UTF-8 bytes, the top k's.</summary>
    private static JsonObject LogprobsOf(IReadOnlyList<TokenEvent> tokens, Tokenizers.ITokenizer tokenizer)
    {
        JsonObject Entry(int id, float logprob)
        {
            string text = tokenizer.Decode([id]);
            var bytes = new JsonArray(Encoding.UTF8.GetBytes(text).Select(b => (JsonNode)(int)b).ToArray());
            return new JsonObject { ["token"] = text, ["logprob"] = logprob, ["bytes"] = bytes };
        }
        var content = new JsonArray();
        foreach (var token in tokens)
        {
            var entry = Entry(token.Id, token.Logprobs!.Logprob);
            var top = token.Logprobs.Top.Select(t => (JsonNode)Entry(t.Id, t.Logprob)).ToArray();
            entry["top_logprobs"] = new JsonArray(top);
            content.Add(entry);
        }
        return new JsonObject { ["content"] = content };
    }
}
