namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Plans an in-place gather of batch rows: row i is to hold what row parents[i] holds now (rows may be
/// copied to several places, and some dropped). Copies are ordered so that no row is overwritten while a later
/// copy still reads it; a cycle (two beams trading places) goes through one spare row, <see cref="Spare"/>.
/// </summary>
internal static class RowGather
{
    /// <summary>The spare row's index in a planned move.</summary>
    public const int Spare = -1;

    public static List<(int From, int To)> Moves(ReadOnlySpan<int> parents)
    {
        var source = parents.ToArray();
        var pending = new List<int>();
        for (int row = 0; row < source.Length; row++)
            if (source[row] != row) pending.Add(row);
        var moves = new List<(int From, int To)>();
        while (pending.Count > 0)
        {
            int free = pending.FindIndex(row => !pending.Any(other => source[other] == row));
            if (free >= 0)
            {
                int row = pending[free];
                moves.Add((source[row], row));
                pending.RemoveAt(free);
                continue;
            }
            // Every pending row is read by another: they form cycles. Park one in the spare row to open its cycle.
            int parked = pending[0];
            moves.Add((parked, Spare));
            foreach (int other in pending)
                if (source[other] == parked) source[other] = Spare;
        }
        return moves;
    }
}
