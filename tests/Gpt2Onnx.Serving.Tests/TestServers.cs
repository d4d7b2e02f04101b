using Gpt2Onnx.Runtime.Cli.Serving;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>A server on one model: in memory (ASP.NET Core's test server) or on a free loopback port.</summary>
public sealed class TestServers : IAsyncDisposable
{
    private readonly LanguageModel _model;
    private readonly WebApplication _app;

    private TestServers(string modelDir, ServerOptions options, bool loopback)
    {
        _model = LanguageModel.Load(modelDir, new SessionSettings { IntraOpThreads = 1 });
        var builder = WebApplication.CreateSlimBuilder();
        if (loopback) builder.WebHost.UseUrls("http://127.0.0.1:0");
        else builder.WebHost.UseTestServer();
        _app = OpenAiServer.Build(builder, _model, options);
    }

    internal static async Task<TestServers> StartAsync(string modelDir, ServerOptions? options = null,
                                                       bool loopback = false)
    {
        options ??= new ServerOptions { ModelName = "tiny", MaxBatch = 4 };
        var server = new TestServers(modelDir, options, loopback);
        await server._app.StartAsync();
        return server;
    }

    /// <summary>The loopback server's address (http://127.0.0.1:PORT).</summary>
    public Uri Address =>
        new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());

    /// <summary>A client of the server, in memory or over the loopback port.</summary>
    public HttpClient Client() => _app.Services.GetRequiredService<IServer>() is TestServer test
        ? test.CreateClient()
        : new HttpClient { BaseAddress = Address };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _model.Dispose();
    }
}
