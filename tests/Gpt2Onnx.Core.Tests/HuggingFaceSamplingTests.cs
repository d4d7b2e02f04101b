using System.Text.Json.Nodes;
using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Core.Tests;

/// <summary>The one reader and writer of Hugging Face's sampling keys, against that library's defaults.</summary>
public class HuggingFaceSamplingTests
{
    [Fact]
    public void An_empty_section_reads_as_Hugging_Face_s_defaults()
    {
        var options = HuggingFaceSampling.Read(new JsonObject());

        // GenerationConfig's defaults: do_sample false, temperature 1.0, top_k 50, top_p 1.0, repetition_penalty 1.0.
        Assert.True(options.Greedy);
        Assert.Equal(1.0, options.Temperature);
        Assert.Equal(50, options.TopK);
        Assert.Equal(1.0, options.TopP);
        Assert.Equal(1.0, options.RepetitionPenalty);
    }

    [Fact]
    public void The_keys_written_are_Hugging_Face_s_names_and_read_back_to_the_same_options()
    {
        var written = new SamplingOptions { Temperature = 0.7, TopK = 12, TopP = 0.9, RepetitionPenalty = 1.3 };
        var section = new JsonObject(HuggingFaceSampling.Write(written));

        Assert.Equal(["do_sample", "temperature", "top_k", "top_p", "repetition_penalty"],
                     section.Select(p => p.Key));
        Assert.True(section["do_sample"]!.GetValue<bool>());
        var read = HuggingFaceSampling.Read(section);
        Assert.Equal((false, 0.7, 12, 0.9, 1.3),
                     (read.Greedy, read.Temperature, read.TopK, read.TopP, read.RepetitionPenalty));
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_an_error_that_starts_with_its_key()
    {
        var section = JsonNode.Parse("""{"top_k": "forty"}""")!.AsObject();

        var error = Assert.Throws<Gpt2OnnxException>(() => HuggingFaceSampling.Read(section));
        Assert.Equal("top_k is \"forty\", not a number", error.Message);
    }

    [Fact]
    public void The_trainer_s_sampling_is_temperature_0_8_and_top_k_40_and_the_default_length_64()
    {
        Assert.Equal((0.8, 40), (SamplingDefaults.TrainedModel.Temperature, SamplingDefaults.TrainedModel.TopK));
        Assert.Equal(64, new SamplingOptions().MaxNewTokens);
    }
}
