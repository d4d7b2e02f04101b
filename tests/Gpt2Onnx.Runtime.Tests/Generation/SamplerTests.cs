using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Tests.Generation;

public class SamplerTests
{
    private static float[] Logits(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
    }

    private static int Sample(SamplingOptions options, float[] logits, int[]? prompt = null)
    {
        var sampler = new Sampler(logits.Length, options);
        sampler.Reset(prompt ?? []);
        return sampler.Next((float[])logits.Clone());
    }

    [Fact]
    public void Greedy_takes_the_largest_logit()
    {
        var logits = Logits(1000, 1);
        Assert.Equal(Array.IndexOf(logits, logits.Max()), Sample(new SamplingOptions { Greedy = true }, logits));
    }

    [Fact]
    public void Top_k_of_one_and_a_tiny_top_p_are_greedy()
    {
        var logits = Logits(1000, 2);
        int best = Array.IndexOf(logits, logits.Max());
        for (ulong seed = 0; seed < 20; seed++)
        {
            Assert.Equal(best, Sample(new SamplingOptions { TopK = 1, Seed = seed }, logits));
            Assert.Equal(best, Sample(new SamplingOptions { TopP = 1e-6, Seed = seed }, logits));
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_tokens_and_another_seed_others()
    {
        var logits = Logits(500, 3);
        var a = Enumerable.Range(0, 50).Select(_ => Sample(new SamplingOptions { Seed = 7, Temperature = 2 }, logits))
            .Distinct().ToList();
        Assert.Single(a);
        var sampler = new Sampler(500, new SamplingOptions { Seed = 7, Temperature = 2 });
        sampler.Reset([]);
        var sequence1 = Enumerable.Range(0, 30).Select(_ => sampler.Next((float[])logits.Clone())).ToArray();
        sampler.Reset([]);
        var sequence2 = Enumerable.Range(0, 30).Select(_ => sampler.Next((float[])logits.Clone())).ToArray();
        Assert.Equal(sequence1, sequence2);
        Assert.True(sequence1.Distinct().Count() > 5);
    }

    [Fact]
    public void Draws_follow_the_softmax_distribution()
    {
        // probabilities 0.1 0.2 0.3 0.4
        float[] logits = [0, (float)Math.Log(2), (float)Math.Log(3), (float)Math.Log(4)];
        var sampler = new Sampler(4, new SamplingOptions { Seed = 11 });
        sampler.Reset([]);
        var counts = new int[4];
        const int draws = 40_000;
        for (int i = 0; i < draws; i++) counts[sampler.Next((float[])logits.Clone())]++;
        for (int i = 0; i < 4; i++) Assert.InRange(counts[i] / (double)draws, 0.1 * (i + 1) - 0.01,
                                                   0.1 * (i + 1) + 0.01);
    }

    [Fact]
    public void Top_k_and_top_p_keep_exactly_the_tokens_their_definitions_keep()
    {
        // probabilities 0.4 0.3 0.2 0.1 (token 3, 2, 1, 0): top-p 0.6 keeps {3, 2}; top-k 3 keeps {3, 2, 1}.
        float[] logits = [(float)Math.Log(1), (float)Math.Log(2), (float)Math.Log(3), (float)Math.Log(4)];
        var seenP = new HashSet<int>();
        var seenK = new HashSet<int>();
        for (ulong seed = 0; seed < 400; seed++)
        {
            seenP.Add(Sample(new SamplingOptions { TopP = 0.6, Seed = seed }, logits));
            seenK.Add(Sample(new SamplingOptions { TopK = 3, Seed = seed }, logits));
        }
        Assert.Equal([2, 3], seenP.Order());
        Assert.Equal([1, 2, 3], seenK.Order());
    }

    [Fact]
    public void Selection_of_the_largest_matches_sorting()
    {
        var random = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = random.Next(1, 200);
            // Few distinct values, so ties are common.
            float[] w = Enumerable.Range(0, n).Select(_ => (float)random.Next(1, 8)).ToArray();
            int maxCount = random.Next(1, n + 1);
            double need = random.NextDouble() * w.Sum() * 1.2;
            int[] ids = Enumerable.Range(0, n).ToArray();
            int kept = Sampler.SelectLargest(ids, w, maxCount, need);

            // Reference: sort by weight descending, then id ascending; take while under both limits.
            var order = Enumerable.Range(0, n).OrderByDescending(i => w[i]).ThenBy(i => i).ToArray();
            int expectedCount = 0;
            double mass = 0;
            while (expectedCount < n && expectedCount < maxCount && mass < need) mass += w[order[expectedCount++]];
            Assert.Equal(expectedCount, kept);
            Assert.Equal(order.Take(expectedCount).Order(), ids.Take(kept).Order());
        }
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens()
    {
        // Token 0 (logit 2) was in the prompt: 2 / 4 = 0.5 < 1 (token 1) → greedy picks 1.
        Assert.Equal(1, Sample(new SamplingOptions { Greedy = true, RepetitionPenalty = 4 }, [2f, 1f, -1f],
                               prompt: [0]));
        Assert.Equal(0, Sample(new SamplingOptions { Greedy = true }, [2f, 1f, -1f], prompt: [0]));
    }

    [Fact]
    public void Presence_and_frequency_penalties_apply_to_generated_tokens()
    {
        var sampler = new Sampler(2, new SamplingOptions { Greedy = true, FrequencyPenalty = 0.6 });
        sampler.Reset([]);
        var tokens = Enumerable.Range(0, 4).Select(_ => sampler.Next([1f, 0f])).ToArray();
        // After token 0 twice its logit is 1 - 1.2 < 0, so token 1 follows.
        Assert.Equal([0, 0, 1, 0], tokens);
    }

    [Fact]
    public void Stop_tokens_are_forbidden_until_the_minimum_length()
    {
        var sampler = new Sampler(3, new SamplingOptions { Greedy = true, MinNewTokens = 2, MaxNewTokens = 5 },
                                  stopTokenIds: [0]);
        sampler.Reset([]);
        Assert.Equal([1, 1, 0], Enumerable.Range(0, 3).Select(_ => sampler.Next([5f, 1f, 0f])).ToArray());
    }

    [Fact]
    public void NaN_logits_are_a_clear_error()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Sample(new SamplingOptions(), [0f, float.NaN]));
        Assert.Contains("NaN", error.Message);
    }

    [Theory]
    [InlineData(-1.0, 0, 1.0)]
    [InlineData(1.0, -1, 1.0)]
    [InlineData(1.0, 0, 0.0)]
    [InlineData(1.0, 0, 1.5)]
    public void Out_of_range_options_are_rejected(double temperature, int topK, double topP) =>
        Assert.Throws<Gpt2OnnxException>(() => new SamplingOptions { Temperature = temperature, TopK = topK,
                                                                     TopP = topP }.Validate());

    [Fact]
    public void Choosing_a_token_allocates_nothing()
    {
        var logits = Logits(50257, 9);
        var sampler = new Sampler(logits.Length,
                                  new SamplingOptions { TopK = 40, TopP = 0.9, RepetitionPenalty = 1.2, Seed = 1 });
        sampler.Reset([1, 2, 3]);
        var scratch = new float[logits.Length];
        for (int i = 0; i < 20; i++) { logits.CopyTo(scratch, 0); sampler.Next(scratch); }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) { logits.CopyTo(scratch, 0); sampler.Next(scratch); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated for 100 tokens");
    }
}
