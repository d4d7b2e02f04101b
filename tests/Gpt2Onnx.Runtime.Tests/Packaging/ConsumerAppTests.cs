using System.Text.Json;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Packaging;

/// <summary>
/// The runtime as an app gets it: `dotnet pack` makes Gpt2Onnx.Runtime.nupkg, and a brand-new console app in a
/// temporary folder, outside the repository (no project reference, no setup script), references it from a local
/// folder feed beside ONNX Runtime's CPU package, loads a tiny export and generates what gpt2-run generates.
/// </summary>
public sealed class ConsumerAppTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_new_console_app_referencing_the_package_generates_the_ids_gpt2_run_generates()
    {
        var (_, _, fused) = TinyModel.Export(Path.Combine(_dir, "model"));
        // A version of its own per run, so that NuGet's global cache never hands the app an older build.
        string version = $"0.1.0-test{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        string feed = Path.Combine(_dir, "feed"), app = Path.Combine(_dir, "app");
        // The runtime's package depends on Gpt2Onnx.Core's (the formats every stage shares), packed beside it.
        foreach (string project in new[] { "core/Gpt2Onnx.Core/Gpt2Onnx.Core.csproj",
                                           "runtime/Gpt2Onnx.Runtime/Gpt2Onnx.Runtime.csproj" })
            await Dotnet(RepositoryRoot.Path, "pack", project, "-c", "Release",
                         "--no-build", "-o", feed, $"-p:PackageVersion={version}");
        Assert.Single(Directory.GetFiles(feed, $"Gpt2Onnx.Runtime.{version}.nupkg"));
        Assert.Single(Directory.GetFiles(feed, $"Gpt2Onnx.Core.{version}.nupkg"));

        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Gpt2Onnx.Runtime" Version="{version}" />
                <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="1.32.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <configuration><packageSources><add key="local" value="{feed}" /></packageSources></configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Gpt2Onnx.Core.Sampling;
            using Gpt2Onnx.Runtime.Generation;
            using var model = LanguageModel.Load(args[0]);
            using var generator = new Generator(model);
            var result = generator.Generate(new GenerationRequest
            {
                PromptIds = [5, 6, 7],
                Options = new SamplingOptions { Greedy = true, MaxNewTokens = 8 },
            });
            Console.WriteLine(string.Join(",", result.TokenIds));
            """);
        string appIds = (await Dotnet(app, "run", "-c", "Release", "--", fused)).Trim().Split('\n')[^1];

        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run", "generate", "--model", fused,
                                                                   "--prompt-ids", "5,6,7",
                                                                   "--greedy", "--max-new-tokens", "8", "--json");
        Assert.True(exitCode == 0, stderr);
        var cliIds = JsonDocument.Parse(stdout).RootElement.GetProperty("ids").EnumerateArray()
                                 .Select(e => e.GetInt32());
        Assert.Equal(string.Join(",", cliIds), appIds);
    }

    private static async Task<string> Dotnet(string folder, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunProgramAsync("dotnet", folder, arguments);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} failed: {stdout}{stderr}");
        return stdout;
    }
}
