using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Generation.Beams;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation.Beams;

/// <summary>
/// A tiny model exported once (portable and fused) and its float64 reference, shared by the beam search tests.
/// </summary>
public sealed class BeamModels : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    public string Portable { get; }
    public string Fused { get; }
    public ReferenceGpt2 Reference { get; }

    public BeamModels()
    {
        (string checkpoint, Portable, Fused) = TinyModel.Export(_dir, seed: 5);
        using var opened = Gpt2Checkpoint.Open(checkpoint);
        Reference = new ReferenceGpt2(opened);
    }

    public LanguageModel Load(bool fused) =>
        LanguageModel.Load(fused ? Fused : Portable, new SessionSettings { IntraOpThreads = 1 });

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>
/// Beam search through the cache (beams as one batch, rows reordered in place) against an independent beam
/// search over the float64 reference that recomputes every sequence from scratch.
/// </summary>
public sealed class BeamSearchTests(BeamModels models) : IClassFixture<BeamModels>
{
    private static readonly int[][] Prompts = [[10, 200, 33, 7], [5], [42, 42, 43, 120, 9, 77]];

    private static SamplingOptions Beams(int beams, int maxNew, IReadOnlyList<int> stops,
                                         BeamSearchOptions? more = null) => new()
    {
        MaxNewTokens = maxNew,
        StopTokenIds = stops,
        Beams = (more ?? new BeamSearchOptions()) with { NumBeams = beams, NumReturnSequences = beams },
    };

    /// <summary>Runs both searches and checks every returned sequence: ids, how it ended, and score.</summary>
    private void AssertEqualsReference(bool fused, int[] prompt, SamplingOptions options, ReferenceBeamSearch reference)
    {
        using var model = models.Load(fused);
        using var generator = new Generator(model);
        var result = generator.Generate(new GenerationRequest { PromptIds = prompt, Options = options });
        var expected = reference.Run(models.Reference, prompt);
        Assert.Equal(expected.Select(h => h.Ids), result.Sequences!.Select(s => s.TokenIds));
        Assert.Equal(expected.Select(h => h.Ended ? FinishReasons.Stop : FinishReasons.Length),
                     result.Sequences!.Select(s => s.FinishReason));
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Score, result.Sequences![i].Score, 1e-4);
        Assert.Equal(expected[0].Ids, result.TokenIds);
    }

    private int EndOfText(bool fused)
    {
        using var model = models.Load(fused);
        return model.EndOfTextId;
    }

    public static TheoryData<bool, int, int> BeamsAndPrompts()
    {
        var data = new TheoryData<bool, int, int>();
        foreach (bool fused in new[] { false, true })
            for (int beams = 1; beams <= 5; beams++)
                for (int prompt = 0; prompt < Prompts.Length; prompt++) data.Add(fused, beams, prompt);
        return data;
    }

    [Theory]
    [MemberData(nameof(BeamsAndPrompts))]
    public void Beam_search_equals_the_reference_with_only_the_end_of_text_token(bool fused, int beams, int prompt)
    {
        var reference = new ReferenceBeamSearch(beams, 10, [EndOfText(fused)], NumReturnSequences: beams);
        AssertEqualsReference(fused, Prompts[prompt], Beams(beams, 10, []), reference);
    }

    [Theory]
    [MemberData(nameof(BeamsAndPrompts))]
    public void Beam_search_equals_the_reference_when_likely_tokens_end_hypotheses(bool fused, int beams, int prompt)
    {
        // The reference's greedy tokens are stop tokens here, so hypotheses end at almost every step.
        int[] stops = models.Reference.Greedy(Prompts[prompt], 3).Distinct().ToArray();
        var reference = new ReferenceBeamSearch(beams, 8, [.. stops, EndOfText(fused)], NumReturnSequences: beams);
        AssertEqualsReference(fused, Prompts[prompt], Beams(beams, 8, stops), reference);
    }

    [Theory]
    [InlineData(false, 3, 2)]
    [InlineData(true, 3, 2)]
    [InlineData(true, 4, 1)]
    [InlineData(false, 2, 3)]
    public void Beam_search_equals_the_reference_with_no_repeat_ngram_size(bool fused, int beams, int ngram)
    {
        foreach (var prompt in Prompts)
        {
            var reference = new ReferenceBeamSearch(beams, 12, [EndOfText(fused)], NoRepeatNgramSize: ngram,
                                                    NumReturnSequences: beams);
            var options = Beams(beams, 12, [], new BeamSearchOptions { NoRepeatNgramSize = ngram });
            AssertEqualsReference(fused, prompt, options, reference);
        }
    }

    [Theory]
    [InlineData(true, "true", 1.0)]
    [InlineData(false, "never", 1.0)]
    [InlineData(true, "never", -0.5)]
    [InlineData(false, "false", 2.0)]
    [InlineData(true, "false", 0.0)]
    public void Early_stopping_and_length_penalty_follow_the_reference(bool fused, string early, double penalty)
    {
        foreach (var prompt in Prompts)
        {
            int[] stops = models.Reference.Greedy(prompt, 2).ToArray();
            var reference = new ReferenceBeamSearch(3, 9, [.. stops, EndOfText(fused)], penalty, early,
                                                    NumReturnSequences: 3);
            var beams = new BeamSearchOptions
            {
                LengthPenalty = penalty, EarlyStopping = BeamSearchOptions.ParseEarlyStopping(early),
            };
            AssertEqualsReference(fused, prompt, Beams(3, 9, stops, beams), reference);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void One_beam_gives_what_greedy_decoding_gives(bool fused)
    {
        using var model = models.Load(fused);
        using var generator = new Generator(model);
        foreach (var prompt in Prompts)
        {
            int[] stops = models.Reference.Greedy(prompt, 4)[2..3];
            var greedy = new SamplingOptions { Greedy = true, MaxNewTokens = 10, StopTokenIds = stops };
            var expected = generator.Generate(new GenerationRequest { PromptIds = prompt, Options = greedy });
            var beam = generator.Generate(new GenerationRequest { PromptIds = prompt, Options = Beams(1, 10, stops) });
            Assert.Equal(expected.TokenIds, beam.TokenIds);
            Assert.Equal(expected.FinishReason, beam.FinishReason);
            Assert.Equal(expected.Text, beam.Text);
        }
    }

    [Fact]
    public void Beam_requests_and_sampled_requests_in_one_call_each_get_their_own_result()
    {
        using var model = models.Load(fused: true);
        using var generator = new Generator(model);
        var greedyOptions = new SamplingOptions { Greedy = true, MaxNewTokens = 6 };
        var greedy = new GenerationRequest { PromptIds = Prompts[0], Options = greedyOptions };
        var beam = new GenerationRequest { PromptIds = Prompts[2], Options = Beams(3, 6, []) };
        var together = generator.Generate([greedy, beam, greedy]);
        Assert.Equal(generator.Generate(greedy).TokenIds, together[0].TokenIds);
        Assert.Equal(generator.Generate(beam).TokenIds, together[1].TokenIds);
        Assert.Equal(together[0].TokenIds, together[2].TokenIds);
        Assert.Null(together[0].Sequences);
    }

    [Theory]
    [InlineData(0, 2, "num_return_sequences")]
    [InlineData(2, 3, "num_return_sequences")]
    [InlineData(-1, 1, "num_beams")]
    public void Out_of_range_beam_settings_are_one_clear_error(int beams, int returned, string named)
    {
        var settings = new BeamSearchOptions { NumBeams = beams, NumReturnSequences = returned };
        var options = new SamplingOptions { Beams = settings };
        var error = Assert.Throws<Gpt2OnnxException>(() => options.Validate());
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void Beam_settings_without_beams_and_stop_strings_with_beams_are_refused()
    {
        var lonely = new SamplingOptions { Beams = new BeamSearchOptions { NoRepeatNgramSize = 2 } };
        Assert.Contains("give num_beams", Assert.Throws<Gpt2OnnxException>(() => lonely.Validate()).Message);
        var strings = new SamplingOptions { StopStrings = ["."], Beams = new BeamSearchOptions { NumBeams = 2 } };
        Assert.Contains("stop strings", Assert.Throws<Gpt2OnnxException>(() => strings.Validate()).Message);
    }
}
