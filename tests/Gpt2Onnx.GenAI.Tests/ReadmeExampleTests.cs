using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;
using Microsoft.ML.OnnxRuntimeGenAI;
using OurGenerator = Gpt2Onnx.Runtime.Generation.Generator;
using Generator = Microsoft.ML.OnnxRuntimeGenAI.Generator;
using Tokenizer = Microsoft.ML.OnnxRuntimeGenAI.Tokenizer;

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>The README's onnxruntime-genai example, compiled and run on an export, against our runtime.</summary>
[Collection(GenAiCollection.Name)]
public sealed class ReadmeExampleTests(TinyExports exports)
{
    [Fact]
    public void The_genai_example_streams_the_text_our_runtime_generates()
    {
        // GPT-2's vocabulary, whose tokens are mostly whole words (a random model over a small byte-level vocabulary
        // writes bytes that form no character, which GenAI's stream and ours replace differently); greedy, as its
        // checkpoint has no generation_config.json.
        string folder = exports.Gpt2;
        var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            // ---- README: "Running an export with onnxruntime-genai" ----
            using var model = new Model(folder);
            using var tokenizer = new Tokenizer(model);
            using var prompt = tokenizer.Encode("the quick brown fox");
            using var search = new GeneratorParams(model); // sampling as genai_config.json's search section says
            search.SetSearchOption("max_length", 48);      // prompt and continuation, in tokens
            using var generator = new Generator(model, search);
            generator.AppendTokenSequences(prompt);
            using var stream = tokenizer.CreateStream();
            while (!generator.IsDone())
            {
                generator.GenerateNextToken();
                Console.Write(stream.Decode(generator.GetNextTokens()[0]));
            }
            // ---- end of the README example ----
        }
        finally
        {
            Console.SetOut(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
        }

        using var ours = LanguageModel.Load(folder);
        using var ourGenerator = new OurGenerator(ours);
        int promptLength = ours.Tokenizer.Encode("the quick brown fox").Length;
        var expected = ourGenerator.Generate(new GenerationRequest
        {
            Prompt = "the quick brown fox", Options = ours.DefaultSampling with { MaxNewTokens = 48 - promptLength },
        });
        Assert.True(ours.DefaultSampling.IsGreedy);
        Assert.Equal(48 - promptLength, expected.TokenIds.Length); // a whole continuation, not an early end-of-text
        Assert.Equal(expected.Text, output.ToString());
    }
}
