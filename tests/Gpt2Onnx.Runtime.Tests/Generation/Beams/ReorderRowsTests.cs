using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Tests.Generation.Beams;

/// <summary>
/// Reordering a decoder's rows in place continues each row as if its new sequence had been there all along.
/// </summary>
public sealed class ReorderRowsTests(BeamModels models) : IClassFixture<BeamModels>
{
    [Theory]
    [InlineData(false, new[] { 1, 0, 2 })]
    [InlineData(true, new[] { 1, 0, 2 })]
    [InlineData(false, new[] { 2, 2, 0 })]
    [InlineData(true, new[] { 2, 2, 0 })]
    [InlineData(true, new[] { 1, 2, 0 })]
    [InlineData(true, new[] { 1, 1, 2 })]
    [InlineData(true, new[] { 0, 0, 2 })]
    public void A_reordered_row_steps_like_a_fresh_decoder_holding_its_parents_sequence(bool fused, int[] parents)
    {
        using var model = models.Load(fused);
        int[][] prompts = [[10, 200, 33], [5, 6, 7], [42, 43, 44]];
        int[] next = [11, 12, 13];
        using var reordered = model.CreateDecoder(3, 16);
        reordered.Prefill(prompts);
        reordered.ReorderRows(parents);
        reordered.Step(next);
        using var fresh = model.CreateDecoder(3, 16);
        fresh.Prefill(parents.Select(p => prompts[p]).ToArray());
        fresh.Step(next);
        for (int row = 0; row < 3; row++)
        {
            Assert.Equal(fresh.Length(row), reordered.Length(row));
            var expected = fresh.Logits(row).ToArray();
            var actual = reordered.Logits(row).ToArray();
            for (int v = 0; v < expected.Length; v++) Assert.Equal(expected[v], actual[v], 1e-4f);
        }
    }
}
