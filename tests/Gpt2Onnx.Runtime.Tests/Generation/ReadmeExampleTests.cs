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
