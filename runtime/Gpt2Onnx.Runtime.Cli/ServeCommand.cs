using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Cli.Serving;
using Gpt2Onnx.Runtime.Generation;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>
/// <c>gpt2-run serve</c>: an OpenAI-compatible HTTP server on the continuous-batching engine (README, "Serving").
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var d = new ServerOptions(); // the defaults
        var host = Flag("--host", "address to listen on", d.Host);
        var port = Flag("--port", "port to listen on (0: any free port, printed at start)", d.Port);
        var name = new Option<string?>("--model-name") 
        {
            Description = "the model's name in the API [default: its folder]",
        };
        var maxBatch = Flag("--max-batch", "sequences decoded together, shared by every request", d.MaxBatch);
        var maxLength = Flag("--max-length", "tokens a sequence's cache holds, prompt included (0: the context)", 0);
        var maxQueue = Flag("--max-queue", "sequences that may wait for a slot; past it, 429", d.MaxQueue);
        var maxBody = Flag("--max-body-bytes", "largest request body", d.MaxBodyBytes);
        var maxChoices = Flag("--max-n", "most choices per request (n)", d.MaxChoices);
        var maxPrompts = Flag("--max-prompts", "most prompts in one completions request", d.MaxPrompts);
        var maxTokens = Flag("--max-tokens", "most new tokens a request may ask for (max_tokens)", d.MaxTokens);
        var maxLogprobs = Flag("--max-logprobs", "most alternatives per token (logprobs, top_logprobs)", d.MaxLogprobs);
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "require 'Authorization: Bearer KEY' on every endpoint but /health " +
                          $"[default: ${ApiKey.EnvironmentVariable}]",
        };
        var template = new Option<string?>("--chat-template")
        {
            Description = "JSON file {\"message\", \"assistant_prefix\", \"stop\"}: how chat messages become a prompt",
        };
        var shutdown = Flag("--shutdown-timeout", "seconds a stop (SIGTERM) lets requests finish, then cancels", 30.0);
        var command = new Command("serve", "serve the model over HTTP with OpenAI's completions and chat API")
        {
            host, port, name, maxBatch, maxLength, maxQueue, maxBody, maxChoices, maxPrompts, maxTokens, maxLogprobs,
            apiKey, template, shutdown,
        };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            CliHost.Require(parsed.GetValue(port) is >= 0 and <= 65535, "--port must be from 0 to 65535");
            foreach (var count in new[] { maxBatch, maxChoices, maxPrompts, maxTokens })
                CliHost.Require(parsed.GetValue(count) >= 1, $"{count.Name} must be 1 or more");
            CliHost.Require(parsed.GetValue(maxLength) is 0 or >= 2, "--max-length must be 0 (the context) or 2+");
            CliHost.Require(parsed.GetValue(maxQueue) >= 0 && parsed.GetValue(maxLogprobs) >= 0,
                            "--max-queue and --max-logprobs must be 0 or more");
            CliHost.Require(parsed.GetValue(maxBody) >= 1024, "--max-body-bytes must be at least 1024");
            CliHost.Require(parsed.GetValue(shutdown) >= 0, "--shutdown-timeout must be 0 or more seconds");
            var chatTemplate = parsed.GetValue(template) is { } path ? ChatTemplate.Load(path) : ChatTemplate.Default;
            string folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(
                Path.GetFullPath(parsed.GetValue(model.Model)!)));
            var options = new ServerOptions
            {
                Host = parsed.GetValue(host)!, Port = parsed.GetValue(port),
                ModelName = parsed.GetValue(name) ?? folder,
                MaxBatch = parsed.GetValue(maxBatch), MaxLength = parsed.GetValue(maxLength),
                MaxQueue = parsed.GetValue(maxQueue),
                MaxBodyBytes = parsed.GetValue(maxBody), MaxChoices = parsed.GetValue(maxChoices),
                MaxPrompts = parsed.GetValue(maxPrompts), MaxTokens = parsed.GetValue(maxTokens),
                MaxLogprobs = parsed.GetValue(maxLogprobs), ChatTemplate = chatTemplate,
                ApiKey = parsed.GetValue(apiKey) ?? KeyFromEnvironment(),
                ShutdownTimeout = TimeSpan.FromSeconds(parsed.GetValue(shutdown)),
            };
            using var languageModel = model.Load(parsed);
            Serve(languageModel, options);
            return 0;
        });
        return command;
    }

    /// <summary>Listens until a stop (SIGTERM, Ctrl-C), saying where and how it batches.</summary>
    private static void Serve(LanguageModel model, ServerOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        string host = options.Host.Contains(':') ? $"[{options.Host}]" : options.Host; // IPv6 goes in brackets
        builder.WebHost.UseUrls($"http://{host}:{options.Port}");
        var app = OpenAiServer.Build(builder, model, options);
        try
        {
            app.Start();
        }
        catch (IOException e)
        {
            throw new Gpt2OnnxException($"cannot listen on {host}:{options.Port} ({e.Message}): " +
                                        "pick another --port or --host");
        }
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Console.Error.WriteLine($"serve: {options.ModelName} ({model.Variant} {model.Precision}) on " +
                                string.Join(", ", addresses));
        Console.Error.WriteLine(app.Services.GetRequiredService<CompletionEngine>().Continuous
            ? $"serve: continuous batching, up to {options.MaxBatch} sequences; up to {options.MaxQueue} more wait " +
              "in the queue"
            : $"serve: a portable graph is served in static batches of up to {options.MaxBatch} (a batch runs until " +
              "its last sequence ends); export with --variant fused for continuous batching");
        if (options.ApiKey != null) Console.Error.WriteLine("serve: every endpoint but /health wants the API key");
        app.WaitForShutdown();
        Console.Error.WriteLine("serve: stopped");
    }

    private static Option<T> Flag<T>(string name, string description, T fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    private static string? KeyFromEnvironment() =>
        Environment.GetEnvironmentVariable(ApiKey.EnvironmentVariable) is { Length: > 0 } key ? key : null;
}
