using System.Text.Json.Nodes;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Batch;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Generation.Beams;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation.Beams;

/// <summary>Beam search through gpt2-run generate and the batch job's rows, against the library's own search.</summary>
public sealed class BeamCommandTests(BeamModels models) : IClassFixture<BeamModels>
{
    private static readonly int[] Prompt = [10, 200, 33, 7];

    private GenerationResult Library(bool fused, BeamSearchOptions beams, int maxNew = 8)
    {
        using var model = models.Load(fused);
        using var generator = new Generator(model);
        var options = new SamplingOptions { MaxNewTokens = maxNew, Beams = beams };
        return generator.Generate(new GenerationRequest { PromptIds = Prompt, Options = options });
    }

    [Fact]
    public async Task Generate_json_gives_the_best_ids_and_every_sequence_asked_for_best_first()
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(
            "gpt2-run", "generate", "--model", models.Fused, "--prompt-ids", string.Join(',', Prompt),
            "--max-new-tokens", "8", "--num-beams", "4", "--num-return-sequences", "3", "--no-repeat-ngram-size", "2",
            "--early-stopping", "never", "--length-penalty", "0.5", "--json");
        Assert.True(exitCode == 0, stderr);
        var json = JsonNode.Parse(stdout)!;
        var expected = Library(fused: true, new BeamSearchOptions
        {
            NumBeams = 4, NumReturnSequences = 3, NoRepeatNgramSize = 2, EarlyStopping = EarlyStopping.Never,
            LengthPenalty = 0.5,
        });
        Assert.Equal(expected.TokenIds, json["ids"]!.AsArray().Select(n => (int)n!));
        var sequences = json["sequences"]!.AsArray();
        Assert.Equal(3, sequences.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected.Sequences![i].TokenIds, sequences[i]!["ids"]!.AsArray().Select(n => (int)n!));
            Assert.Equal(expected.Sequences![i].Text, (string)sequences[i]!["text"]!);
            Assert.Equal(expected.Sequences![i].Score, (double)sequences[i]!["score"]!, 1e-5); // its own thread count
        }
        var scores = sequences.Select(s => (double)s!["score"]!).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
    }

    [Theory]
    [InlineData(new[] { "--num-beams", "2", "--num-return-sequences", "3" }, "--num-return-sequences")]
    [InlineData(new[] { "--no-repeat-ngram-size", "2" }, "--num-beams")]
    [InlineData(new[] { "--num-beams", "2", "--early-stopping", "soon" }, "--early-stopping must be true, false or")]
    [InlineData(new[] { "--num-beams", "2", "--stop", "." }, "--stop-id")]
    public async Task Bad_beam_flags_are_one_usage_error_naming_the_flag(string[] flags, string named)
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(
            "gpt2-run", ["generate", "--model", models.Fused, "--prompt-ids", "5", .. flags]);
        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Contains(named, stderr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_batch_row_with_num_beams_gets_the_librarys_beam_search_and_its_sequences(bool fused)
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            string input = Path.Combine(dir, "in.jsonl"), output = Path.Combine(dir, "out.jsonl");
            File.WriteAllLines(input,
            [
                """{"id": "b", "prompt": "", "max_new_tokens": 8, "num_beams": 3, "num_return_sequences": 2, """ +
                "\"early_stopping\": true}",
                """{"id": "g", "prompt": "hello", "max_new_tokens": 5, "temperature": 0}""",
            ]);
            using var model = models.Load(fused);
            BatchJob.Run(model, new BatchJobOptions { Input = input, Output = output, MaxBatch = 2 }, TextWriter.Null);
            var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToDictionary(r => (string)r["id"]!);
            using var generator = new Generator(model);
            var beams = new BeamSearchOptions
            {
                NumBeams = 3, NumReturnSequences = 2, EarlyStopping = EarlyStopping.WhenFull,
            };
            var beamOptions = new SamplingOptions { MaxNewTokens = 8, Beams = beams };
            var expected = generator.Generate(new GenerationRequest { Prompt = "", Options = beamOptions });
            Assert.Equal(expected.Text, (string)rows["b"]["completion"]!);
            Assert.Equal(expected.Sequences!.Select(s => s.Text),
                         rows["b"]["sequences"]!.AsArray().Select(s => (string)s!["text"]!));
            var greedyOptions = new SamplingOptions { MaxNewTokens = 5, Greedy = true };
            var greedy = generator.Generate(new GenerationRequest { Prompt = "hello", Options = greedyOptions });
            Assert.Equal(greedy.Text, (string)rows["g"]["completion"]!);
            Assert.Null(rows["g"]["sequences"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
