using System.ClientModel;
using Gpt2Onnx.Runtime.Cli.Serving;
using Gpt2Onnx.TestSupport;
using OpenAI;
using OpenAI.Chat;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>The README's OpenAI client example, run against a server, and checked against the README.</summary>
public sealed class ReadmeClientExampleTests(ServedModels models) : IClassFixture<ServedModels>
{
    [Fact]
    public async Task The_openai_client_example_talks_to_the_server()
    {
        var options = new ServerOptions { ModelName = "gpt2", ApiKey = "my-key" };
        await using var server = await TestServers.StartAsync(models.Fused, options, loopback: true);
        var endpoint = new Uri(server.Address, "/v1");
        var output = new StringWriter();
        // ---- README: "Serving" ----
        var client = new ChatClient("gpt2", new ApiKeyCredential("my-key"),
                                    new OpenAIClientOptions { Endpoint = endpoint });
        ChatCompletion reply = await client.CompleteChatAsync(
            [new UserChatMessage("Tell me about the sea.")],
            new ChatCompletionOptions { MaxOutputTokenCount = 32, Temperature = 0.8f });
        foreach (var part in reply.Content) output.Write(part.Text);
        output.WriteLine($" [{reply.FinishReason}, {reply.Usage.OutputTokenCount} tokens]");
        // ---- end of the README example ----
        Assert.InRange(reply.Usage.OutputTokenCount, 1, 32);
        Assert.EndsWith($"tokens]{Environment.NewLine}", output.ToString());
        Assert.Contains(Snippet(), File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md")));
    }

    /// <summary>The example's lines as this file has them, less their indentation.</summary>
    private static string Snippet()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot.Path, "tests", "Gpt2Onnx.Serving.Tests",
                                                   "ReadmeClientExampleTests.cs"));
        int from = Array.FindIndex(lines, l => l.Contains("---- README: \"Serving\"")) + 1;
        int to = Array.FindIndex(lines, l => l.Contains("---- end of the README example"));
        return string.Join("\n", lines[from..to].Select(l => l.Length >= 8 ? l[8..] : l.TrimStart()));
    }
}
