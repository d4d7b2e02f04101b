using Gpt2Onnx.Runtime.Cli.Serving;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>Requests the server refuses: an OpenAI-style error object that names the field at fault.</summary>
public sealed class ValidationTests(ServedModels models) : IClassFixture<ServedModels>
{
    [Theory]
    [InlineData("""{"prompt": "hi", "temperature": "hot"}""", "temperature")]
    [InlineData("""{"prompt": "hi", "temperature": 3}""", "temperature")]
    [InlineData("""{"prompt": "hi", "top_p": 0}""", "top_p")]
    [InlineData("""{"prompt": "hi", "n": 0}""", "n")]
    [InlineData("""{"prompt": "hi", "n": 17}""", "n")]
    [InlineData("""{"prompt": "hi", "max_tokens": -1}""", "max_tokens")]
    [InlineData("""{"prompt": "hi", "max_tokens": 5000}""", "max_tokens")]
    [InlineData("""{"prompt": "hi", "max_tokens": 4, "min_tokens": 5}""", "min_tokens")]
    [InlineData("""{"prompt": "hi", "logprobs": 21}""", "logprobs")]
    [InlineData("""{"prompt": "hi", "logprobs": 1, "echo": true}""", "echo")]
    [InlineData("""{"prompt": "hi", "stop": ["a", ""]}""", "stop")]
    [InlineData("""{"prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}""", "stop")]
    [InlineData("""{"prompt": "hi", "presence_penalty": 2.5}""", "presence_penalty")]
    [InlineData("""{"prompt": "hi", "seed": 1.5}""", "seed")]
    [InlineData("""{"prompt": "hi", "stream": "yes"}""", "stream")]
    [InlineData("""{"prompt": 42}""", "prompt")]
    [InlineData("""{"prompt": []}""", "prompt")]
    [InlineData("""{"max_tokens": 3}""", "prompt")]
    public async Task A_bad_completions_field_is_a_400_naming_it(string body, string field)
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var (status, error) = await Http.PostJsonAsync(server.Client(), "/v1/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(field, error!["error"]!["param"]!.GetValue<string>());
        Assert.Equal("invalid_request_error", error["error"]!["type"]!.GetValue<string>());
        Assert.Contains(field, error["error"]!["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"messages": []}""", "messages")]
    [InlineData("""{"messages": [{"role": "robot", "content": "hi"}]}""", "messages[0].role")]
    [InlineData("""{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}""", "messages[0].content")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}""", "top_logprobs")]
    public async Task A_bad_chat_field_is_a_400_naming_it(string body, string field)
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var (status, error) = await Http.PostJsonAsync(server.Client(), "/v1/chat/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(field, error!["error"]!["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_a_400_unless_the_request_truncates_it()
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var client = server.Client();
        string longPrompt = string.Concat(Enumerable.Repeat("the quick brown fox ", 40)); // far more than 64 tokens
        string body = $$"""{"prompt": "{{longPrompt}}", "max_tokens": 3}""";
        var (status, error) = await Http.PostJsonAsync(client, "/v1/completions", body);
        Assert.Equal(400, status);
        Assert.Equal("prompt", error!["error"]!["param"]!.GetValue<string>());
        Assert.Contains("context of 64 tokens", error["error"]!["message"]!.GetValue<string>());
        var (ok, truncated) = await Http.PostJsonAsync(client, "/v1/completions",
                                                       body.Replace("}", """, "truncate_prompt_tokens": 20}"""));
        Assert.Equal(200, ok);
        Assert.Equal(20, truncated!["usage"]!["prompt_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Bodies_that_are_not_json_too_large_or_for_another_model_are_refused()
    {
        var options = new ServerOptions { ModelName = "tiny", MaxBodyBytes = 2048 };
        await using var server = await TestServers.StartAsync(models.Fused, options);
        var client = server.Client();
        Assert.Equal(400, (await Http.PostJsonAsync(client, "/v1/completions", "{\"prompt\": ")).Status);
        string large = $$"""{"prompt": "{{new string('a', 4000)}}"}""";
        var (tooLarge, error) = await Http.PostJsonAsync(client, "/v1/completions", large);
        Assert.Equal(413, tooLarge);
        Assert.Contains("--max-body-bytes", error!["error"]!["message"]!.GetValue<string>());
        string otherModel = """{"model": "gpt-4", "prompt": "hi"}""";
        var (notFound, wrongModel) = await Http.PostJsonAsync(client, "/v1/completions", otherModel);
        Assert.Equal(404, notFound);
        Assert.Equal("model", wrongModel!["error"]!["param"]!.GetValue<string>());
        Assert.Equal("model_not_found", wrongModel["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_an_api_key_every_endpoint_but_health_wants_the_bearer_token()
    {
        var options = new ServerOptions { ModelName = "tiny", ApiKey = "s3cret" };
        await using var server = await TestServers.StartAsync(models.Fused, options);
        var client = server.Client();
        Assert.Equal(200, (int)(await client.GetAsync("/health")).StatusCode);
        Assert.Equal(401, (int)(await client.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(401, (int)(await client.GetAsync("/metrics")).StatusCode);
        const string Body = """{"prompt": "hi", "max_tokens": 2}""";
        var (status, error) = await Http.PostJsonAsync(client, "/v1/completions", Body);
        Assert.Equal(401, status);
        Assert.Equal("authentication_error", error!["error"]!["type"]!.GetValue<string>());
        Assert.Equal(401, (await Http.PostJsonAsync(client, "/v1/completions", Body, apiKey: "wrong")).Status);
        Assert.Equal(200, (await Http.PostJsonAsync(client, "/v1/completions", Body, apiKey: "s3cret")).Status);
    }
}
