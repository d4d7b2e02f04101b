using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using Gpt2Onnx.TestSupport;
using OpenAI;
using OpenAI.Chat;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>
/// POST /v1/chat/completions through the official OpenAI .NET client, against a server on a loopback port: the reply
/// is what gpt2-run generate writes for the template's prompt, with the template's stop strings.
/// </summary>
public sealed class ChatTests(ServedModels models) : IClassFixture<ServedModels>
{
    // The default template: each message as "{role}: {content}\n", then "assistant:" for the model to continue.
    private const string TemplatePrompt = "system: be brief\nuser: hello world\nassistant:";

    private static List<ChatMessage> Messages() =>
        [new SystemChatMessage("be brief"), new UserChatMessage("hello world")];

// Seed is marked experimental in the client; it is what makes the comparison exact.
#pragma warning disable OPENAI001
    private static ChatCompletionOptions Options() => new() { Temperature = 0.9f, Seed = 3, MaxOutputTokenCount = 12 };
#pragma warning restore OPENAI001

    private static ChatClient Client(TestServers server) =>
        new("tiny", new ApiKeyCredential("not-checked"),
            new OpenAIClientOptions { Endpoint = new Uri(server.Address, "/v1") });

    private async Task<(string Text, int Tokens)> GenerateAsync()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(
            "gpt2-run", "generate", "--model", models.Fused, "--prompt", TemplatePrompt, "--json", "--seed", "3",
            "--temperature", "0.9", "--max-new-tokens", "12", "--stop", "\nuser:", "--stop", "\nsystem:",
            "--threads", "1");
        Assert.True(code == 0, stderr);
        var json = JsonNode.Parse(stdout)!;
        return (json["text"]!.GetValue<string>(), json["ids"]!.AsArray().Count);
    }

    [Fact]
    public async Task The_OpenAI_clients_chat_completion_is_what_generate_writes_for_the_templates_prompt()
    {
        var expected = await GenerateAsync();
        await using var server = await TestServers.StartAsync(models.Fused, loopback: true);
        ChatCompletion completion = await Client(server).CompleteChatAsync(Messages(), Options());
        Assert.Equal(expected.Text, completion.Content.Count == 0 ? "" : completion.Content[0].Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(expected.Tokens, completion.Usage.OutputTokenCount);
        Assert.Contains(completion.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
    }

    [Fact]
    public async Task The_OpenAI_clients_streamed_chat_is_the_same_reply_with_usage()
    {
        var expected = await GenerateAsync();
        await using var server = await TestServers.StartAsync(models.Fused, loopback: true);
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var update in Client(server).CompleteChatStreamingAsync(Messages(), Options()))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(expected.Text, text.ToString());
        Assert.True(updates >= 3, "a role chunk, the pieces, and a last chunk with the finish reason");
        Assert.NotNull(finish);
        Assert.Equal(expected.Tokens, usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Chat_logprobs_come_per_token_with_the_top_alternatives()
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var (status, body) = await Http.PostJsonAsync(server.Client(), "/v1/chat/completions",
            """
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
             "max_tokens": 4, "min_tokens": 4, "logprobs": true, "top_logprobs": 2, "temperature": 0}
            """);
        Assert.Equal(200, status);
        var content = body!["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Equal(4, content.Count);
        Assert.All(content, token =>
        {
            Assert.Equal(2, token!["top_logprobs"]!.AsArray().Count);
            double best = token["top_logprobs"]![0]!["logprob"]!.GetValue<double>();
            Assert.Equal(best, token["logprob"]!.GetValue<double>(), 4);
        });
    }
}
