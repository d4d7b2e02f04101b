using System.Text.Json;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// A request the server refuses, answered as the OpenAI API answers: a status code and
/// <c>{"error": {"message", "type", "param", "code"}}</c>, where <c>param</c> names the field at fault.
/// </summary>
internal sealed class ApiError(int status, string message, string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>The OpenAI error type that goes with the status.</summary>
    public string Type => Status switch
    {
        401 => "authentication_error",
        404 => "not_found_error",
        413 or 400 => "invalid_request_error",
        429 => "rate_limit_error",
        503 => "service_unavailable_error",
        _ => "server_error",
    };

    public static ApiError Invalid(string param, string message) => new(400, message, param);

    /// <summary>The error object, for a response or for a stream that already began.</summary>
    public object Body => new { error = new { message = Message, type = Type, param = Param, code = Code } };

    public string Json() => JsonSerializer.Serialize(Body);

    public Task WriteAsync(HttpContext context)
    {
        context.Response.StatusCode = Status;
        if (Status == 429) context.Response.Headers.RetryAfter = "1"; // a slot frees within a few tokens' time
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(Json());
    }
}
