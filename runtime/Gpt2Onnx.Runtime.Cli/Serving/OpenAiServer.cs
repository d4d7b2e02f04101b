using Gpt2Onnx.Runtime.Generation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// The HTTP server of <c>gpt2-run serve</c>: OpenAI's completions, chat completions and models endpoints, /health and
/// /metrics, all on one <see cref="CompletionEngine"/>. Built on a <see cref="WebApplicationBuilder"/> the caller
/// made, so that tests can put it on ASP.NET Core's in-memory test server instead of a port.
/// </summary>
internal static class OpenAiServer
{
    public static WebApplication Build(WebApplicationBuilder builder, LanguageModel model, ServerOptions options)
    {
        builder.Logging.ClearProviders();
        // ASP.NET Core's own log goes to stderr, warnings and errors only: stdout stays the command's.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxBodyBytes);
        var metrics = new ServerMetrics(options.MaxBatch);
        var engine = new CompletionEngine(model, options, metrics);
        builder.Services.AddSingleton(engine);
        builder.Services.AddHostedService<EngineService>();
        var app = builder.Build();
        var loaded = DateTimeOffset.UtcNow;
        var stopping = app.Lifetime.ApplicationStopping;

        app.Use(async (context, next) =>
        {
            try
            {
                bool open = options.ApiKey == null || context.Request.Path == "/health";
                if (!open && !ApiKey.Matches(context.Request, options.ApiKey!))
                    throw new ApiError(401, "this server wants an API key: send 'Authorization: Bearer KEY'",
                                       code: "invalid_api_key");
                await next(context);
            }
            catch (ApiError e) when (!context.Response.HasStarted)
            {
                await e.WriteAsync(context);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client left: its sequences were cancelled with it, and no one is there to answer.
            }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                await new ApiError(e.StatusCode, e.StatusCode == 413
                    ? $"the body is over {options.MaxBodyBytes:N0} bytes, this server's limit (--max-body-bytes)"
                    : e.Message).WriteAsync(context);
            }
            finally
            {
                metrics.Requests.WithLabels(Endpoint(context), context.Response.StatusCode.ToString()).Inc();
            }
        });

        app.MapGet("/health", (HttpContext context) => stopping.IsCancellationRequested
            ? Results.Json(new { status = "stopping" }, statusCode: 503)
            : Results.Json(new { status = "ok", model = options.ModelName }));
        app.MapGet("/v1/models", () => Results.Json(ModelsEndpoint.List(options, loaded)));
        app.MapPost("/v1/completions", (HttpContext c) => CompletionsEndpoint.HandleAsync(c, engine, options));
        app.MapPost("/v1/chat/completions", (HttpContext c) => ChatCompletionsEndpoint.HandleAsync(c, engine, options));
        app.MapMetrics("/metrics", metrics.Registry);
        app.MapFallback((HttpContext c) =>
            new ApiError(404, $"no endpoint {c.Request.Method} {c.Request.Path}").WriteAsync(c));
        return app;
    }

    /// <summary>The label a request counts under: its route, or "other" (unknown paths must not add labels).</summary>
    private static string Endpoint(HttpContext context) => context.Request.Path.Value switch
    {
        "/health" or "/v1/models" or "/v1/completions" or "/v1/chat/completions" or "/metrics" =>
            context.Request.Path.Value,
        _ => "other",
    };

    /// <summary>Starts the engine with the server and stops it after the server stops taking requests.</summary>
    private sealed class EngineService(CompletionEngine engine) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            engine.Start();
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await engine.StopAsync(cancellationToken);
            engine.Dispose();
        }
    }
}
