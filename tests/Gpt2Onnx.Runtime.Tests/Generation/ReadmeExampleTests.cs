using System.Threading.Channels;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>The README's application example, compiled and run here so that it stays true.</summary>
public sealed class ReadmeExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_ten_line_example_generates_and_streams()
    {
        var (_, _, folder) = TinyModel.Export(_dir);
        var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            // ---- README: "Using the runtime from C#" ----
            using var model = LanguageModel.Load(folder);
            using var generator = new Generator(model);
            var request = new GenerationRequest
            {
                Prompt = "床前明月光，",
                Options = new SamplingOptions { MaxNewTokens = 48, Temperature = 0.8, TopK = 40, Seed = 1 },
            };
            var result = generator.Generate(request, piece => Console.Write(piece));
            Console.WriteLine($" [{result.FinishReason}]");
            // ---- end of the README example ----
            Assert.Equal(result.Text + $" [{result.FinishReason}]" + Environment.NewLine, output.ToString());
            Assert.InRange(result.TokenIds.Length, 1, 48);
        }
        finally
        {
            Console.SetOut(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
        }
    }
}

/// <summary>The README's batch-engine example, compiled and run.</summary>
public sealed class ReadmeBatchExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_batch_engine_example_yields_every_prompt_in_order()
    {
        var (_, _, folder) = TinyModel.Export(_dir);
        using var model = LanguageModel.Load(folder);
        string[] prompts = ["the quick", "hello", "床前"];
        var lines = new List<string>();
        // ---- README: "Batch jobs" ----
        using var engine = new BatchEngine(model, maxBatch: 16);
        foreach (var output in engine.Run(prompts.Select((p, i) => new BatchItem(i.ToString(),
            new GenerationRequest { Prompt = p }))))
            lines.Add($"{output.Id}: {output.Result?.Text ?? output.Error}");
        // ---- end of the README example ----
        Assert.Equal(["0", "1", "2"], lines.Select(l => l[..1]));
        Assert.True(engine.Continuous);
    }

    [Fact]
    public async Task The_asynchronous_example_answers_requests_written_to_a_channel()
    {
        var (_, _, folder) = TinyModel.Export(_dir);
        using var model = LanguageModel.Load(folder);
        using var engine = new BatchEngine(model, maxBatch: 16);
        var lines = new List<string>();
        var cancellationToken = CancellationToken.None;
        // ---- README: "Batch jobs", asynchronous ----
        var queue = Channel.CreateUnbounded<BatchItem>(); // the app writes requests here as they arrive
        var serving = Task.Run(async () =>
        {
            await foreach (var output in engine.RunAsync(queue.Reader.ReadAllAsync(cancellationToken),
                                                         cancellationToken: cancellationToken))
                lines.Add($"{output.Id}: {output.Result?.Text ?? output.Error}");
        });
        await queue.Writer.WriteAsync(new BatchItem("a", new GenerationRequest { Prompt = "床前明月光，" }));
        // ---- end of the README example ----
        await queue.Writer.WriteAsync(new BatchItem("b", new GenerationRequest { Prompt = "hello" }));
        queue.Writer.Complete();
        await serving.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(["a", "b"], lines.Select(l => l[..1]));
    }
}
