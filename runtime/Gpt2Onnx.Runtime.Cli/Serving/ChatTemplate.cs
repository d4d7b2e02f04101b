using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// How chat messages become one prompt. GPT-2 was never tuned on chats, so the template is plain text a web page
/// could hold: each message as <see cref="Message"/> with <c>{role}</c> and <c>{content}</c> filled in, then
/// <see cref="AssistantPrefix"/> for the model to continue; <see cref="Stop"/> ends the reply where the model would
/// start writing the next turn. <c>--chat-template FILE</c> reads the three from a JSON object (README, "Serving").
/// </summary>
internal sealed record ChatTemplate(string Message, string AssistantPrefix, IReadOnlyList<string> Stop)
{
    public static ChatTemplate Default { get; } = new("{role}: {content}\n", "assistant:", ["\nuser:", "\nsystem:"]);

    public string Prompt(IEnumerable<(string Role, string Content)> messages)
    {
        var prompt = new StringBuilder();
        foreach (var (role, content) in messages)
            prompt.Append(Message.Replace("{role}", role).Replace("{content}", content));
        return prompt.Append(AssistantPrefix).ToString();
    }

    /// <summary>
    /// Reads {"message": ..., "assistant_prefix": ..., "stop": [...]} from a file; what it leaves out stays as
    /// the default has it.
    /// </summary>
    public static ChatTemplate Load(string path)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new Gpt2OnnxException($"{path} is not a JSON object: write " +
                                                  "{\"message\", \"assistant_prefix\", \"stop\"}");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path} is not valid JSON ({e.Message}): fix the chat template");
        }
        string Text(string key, string fallback) => json[key] switch
        {
            null => fallback,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw new Gpt2OnnxException($"{path}: '{key}' must be a string"),
        };
        var template = new ChatTemplate(Text("message", Default.Message),
                                        Text("assistant_prefix", Default.AssistantPrefix),
                                        json["stop"] == null ? Default.Stop : Stops(json["stop"], path));
        if (!template.Message.Contains("{content}"))
            throw new Gpt2OnnxException($"{path}: 'message' has no {{content}}, so no message would reach the model");
        return template;
    }

    private static List<string> Stops(JsonNode? stops, string path) =>
        stops is JsonArray array && 
            array.All(s => s?.GetValueKind() == JsonValueKind.String && s.GetValue<string>() != "")
            ? array.Select(s => s!.GetValue<string>()).ToList()
            : throw new Gpt2OnnxException($"{path}: 'stop' must be an array of non-empty strings");
}
