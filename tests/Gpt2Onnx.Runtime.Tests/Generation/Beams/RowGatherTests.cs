using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Tests.Generation.Beams;

/// <summary>The in-place gather plan for reordered cache rows, checked by carrying it out on labelled rows.</summary>
public sealed class RowGatherTests
{
    /// <summary>Carries out the planned moves on rows labelled by their index, with one spare slot.</summary>
    private static int[] Apply(int[] parents)
    {
        var rows = Enumerable.Range(0, parents.Length).ToArray();
        int spare = -99;
        foreach (var (from, to) in RowGather.Moves(parents))
        {
            int value = from == RowGather.Spare ? spare : rows[from];
            if (to == RowGather.Spare) spare = value;
            else rows[to] = value;
        }
        return rows;
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3 })]
    [InlineData(new[] { 1, 0, 3, 2 })]
    [InlineData(new[] { 1, 2, 3, 0 })]
    [InlineData(new[] { 0, 0, 0, 0 })]
    [InlineData(new[] { 3, 3, 1, 1 })]
    [InlineData(new[] { 2, 0, 1, 4, 3 })]
    public void Every_row_ends_up_holding_its_parents_old_contents(int[] parents) =>
        Assert.Equal(parents, Apply(parents));

    [Fact]
    public void Random_reselections_of_up_to_eight_rows_all_gather_correctly()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 2000; trial++)
        {
            var parents = Enumerable.Range(0, random.Next(1, 9)).ToArray();
            if (trial % 2 == 0) random.Shuffle(parents); // permutations, with their cycles
            else for (int i = 0; i < parents.Length; i++) parents[i] = random.Next(parents.Length);
            Assert.Equal(parents, Apply(parents));
        }
    }

    [Fact]
    public void Rows_that_keep_their_contents_are_not_copied() =>
        Assert.Equal([(0, 1)], RowGather.Moves([0, 0, 2]));
}
