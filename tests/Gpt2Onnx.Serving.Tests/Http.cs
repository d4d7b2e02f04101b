using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>Raw HTTP as curl sends it: a JSON body posted, a JSON answer or server-sent events read back.</summary>
public static class Http
{
    public static HttpRequestMessage Post(string path, string json, string? apiKey = null)
    {
        var content = new StringContent(json, Encoding.UTF8, "application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (apiKey != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return request;
    }

    public static async Task<(int Status, JsonNode? Body)> PostJsonAsync(HttpClient client, string path, string json,
                                                                         string? apiKey = null)
    {
        using var response = await client.SendAsync(Post(path, json, apiKey));
        string body = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, body.Length == 0 ? null : JsonNode.Parse(body));
    }

    /// <summary>The events of a streamed answer, each chunk's JSON, and whether it ended with data: [DONE].</summary>
    public static async Task<(List<JsonNode> Chunks, bool Done)> StreamAsync(HttpClient client, string path,
                                                                             string json)
    {
        using var response = await client.SendAsync(Post(path, json), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var chunks = new List<JsonNode>();
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            Assert.False(done, "nothing may follow data: [DONE]");
            if (line == "data: [DONE]") done = true;
            else chunks.Add(JsonNode.Parse(line["data: ".Length..])!);
        }
        return (chunks, done);
    }
}
