using System.Text.Json;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>Streaming as OpenAI streams: server-sent events of JSON chunks, <c>data: [DONE]</c> last.</summary>
internal static class ServerSentEvents
{
    public static void Begin(HttpResponse response)
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // Proxies such as nginx hold a response back to buffer it; a stream of tokens must go out as it comes.
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public static async Task WriteAsync(HttpResponse response, object chunk, CancellationToken cancellation)
    {
        await response.WriteAsync($"data: {JsonSerializer.Serialize(chunk)}\n\n", cancellation);
        await response.Body.FlushAsync(cancellation);
    }

    public static async Task DoneAsync(HttpResponse response, CancellationToken cancellation)
    {
        await response.WriteAsync("data: [DONE]\n\n", cancellation);
        await response.Body.FlushAsync(cancellation);
    }
}
