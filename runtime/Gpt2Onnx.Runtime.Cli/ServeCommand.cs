using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Runtime.Cli.Serving;
using Microsoft.Extensions.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run serve</c>: an OpenAI-compatible HTTP server on the continuous-batching engine (README, "Serving").</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var defaults = new ServerOptions();
        var host = new Option<string>("--host") { Description = "address to listen on", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "port to listen on (0: any free port, printed at start)", DefaultValueFactory = _ => defaults.Port };
        var name = new Option<string?>("--model-name") { Description = "the model's name in the API [default: the model folder's name]" };
        var maxBatch = new Option<int>("--max-batch") { Description = "sequences decoded together, shared by every request", DefaultValueFactory = _ => defaults.MaxBatch };
        var maxLength = new Option<int>("--max-length") { Description = "tokens per sequence the cache holds, prompt included (0: the model's context)", DefaultValueFactory = _ => 0 };
        var maxQueue = new Option<int>("--max-queue") { Description = "sequences that may wait for a slot; past it requests get 429", DefaultValueFactory = _ => defaults.MaxQueue };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "largest request body", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var maxChoices = new Option<int>("--max-n") { Description = "most choices per request (n)", DefaultValueFactory = _ => defaults.MaxChoices };
        var maxPrompts = new Option<int>("--max-prompts") { Description = "most prompts in one completions request", DefaultValueFactory = _ => defaults.MaxPrompts };
        var maxTokens = new Option<int>("--max-tokens") { Description = "most new tokens a request may ask for (max_tokens)", DefaultValueFactory = _ => defaults.MaxTokens };
        var maxLogprobs = new Option<int>("--max-logprobs") { Description = "most alternatives per token (logprobs, top_logprobs)", DefaultValueFactory = _ => defaults.MaxLogprobs };
        var apiKey = new Option<string?>("--api-key") { Description = $"require 'Authorization: Bearer KEY' on every endpoint but /health [default: ${ApiKey.EnvironmentVariable}]" };
        var template = new Option<string?>("--chat-template") { Description = "JSON file {\"message\", \"assistant_prefix\", \"stop\"} turning chat messages into a prompt" };
        var shutdown = new Option<double>("--shutdown-timeout") { Description = "seconds a stop (SIGTERM) lets requests finish before cancelling them", DefaultValueFactory = _ => 30.0 };
        var command = new Command("serve", "serve the model over HTTP with OpenAI's completions and chat completions API")
        {
            host, port, name, maxBatch, maxLength, maxQueue, maxBody, maxChoices, maxPrompts, maxTokens, maxLogprobs, apiKey, template, shutdown,
        };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            CliHost.Require(parsed.GetValue(port) is >= 0 and <= 65535, "--port must be from 0 to 65535");
            foreach (var count in new[] { maxBatch, maxChoices, maxPrompts, maxTokens })
                CliHost.Require(parsed.GetValue(count) >= 1, $"{count.Name} must be at least 1, not {parsed.GetValue(count)}");
            CliHost.Require(parsed.GetValue(maxLength) is 0 or >= 2, "--max-length must be 0 (the model's context) or at least 2");
            CliHost.Require(parsed.GetValue(maxQueue) >= 0 && parsed.GetValue(maxLogprobs) >= 0, "--max-queue and --max-logprobs must be 0 or more");
            CliHost.Require(parsed.GetValue(maxBody) >= 1024, "--max-body-bytes must be at least 1024");
            CliHost.Require(parsed.GetValue(shutdown) >= 0, "--shutdown-timeout must be 0 or more seconds");
            var chatTemplate = parsed.GetValue(template) is { } path ? ChatTemplate.Load(path) : ChatTemplate.Default;
            string folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(parsed.GetValue(model.Model)!)));
            var options = new ServerOptions
            {
                Host = parsed.GetValue(host)!, Port = parsed.GetValue(port), ModelName = parsed.GetValue(name) ?? folder,
                MaxBatch = parsed.GetValue(maxBatch), MaxLength = parsed.GetValue(maxLength), MaxQueue = parsed.GetValue(maxQueue), MaxBodyBytes = parsed.GetValue(maxBody),
                MaxChoices = parsed.GetValue(maxChoices), MaxPrompts = parsed.GetValue(maxPrompts), MaxTokens = parsed.GetValue(maxTokens),
                MaxLogprobs = parsed.GetValue(maxLogprobs), ChatTemplate = chatTemplate,
                ApiKey = parsed.GetValue(apiKey) ?? NonEmpty(Environment.GetEnvironmentVariable(ApiKey.EnvironmentVariable)),
                ShutdownTimeout = TimeSpan.FromSeconds(parsed.GetValue(shutdown)),
            };
            using var languageModel = model.Load(parsed);
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://{(options.Host.Contains(':') ? $"[{options.Host}]" : options.Host)}:{options.Port}");
            var app = OpenAiServer.Build(builder, languageModel, options);
            try
            {
                app.Start();
            }
            catch (IOException e)
            {
                throw new Gpt2OnnxException($"cannot listen on {options.Host}:{options.Port} ({e.Message}): pick another --port or --host");
            }
            var engine = app.Services.GetRequiredService<CompletionEngine>();
            string urls = string.Join(", ", app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses);
            Console.Error.WriteLine($"serve: {options.ModelName} ({languageModel.Variant} {languageModel.Precision}) on {urls}");
            Console.Error.WriteLine(engine.Continuous
                ? $"serve: continuous batching, up to {options.MaxBatch} sequences; up to {options.MaxQueue} more wait in the queue"
                : $"serve: a portable graph is served in static batches of up to {options.MaxBatch} (a batch runs until its last " +
                  "sequence ends); export with --variant fused for continuous batching");
            if (options.ApiKey != null) Console.Error.WriteLine("serve: every endpoint but /health wants the API key");
            app.WaitForShutdown();
            Console.Error.WriteLine("serve: stopped");
            return 0;
        });
        return command;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
