namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// A pair of token ids packed into one long, and a hash that mixes both halves. The default
/// long.GetHashCode is left ^ right, which collides for every pair with the same xor, and GPT-2's 50,000 merges
/// have many such pairs (what it cost: docs/performance.md).
/// </summary>
internal sealed class PairKey : IEqualityComparer<long>
{
    public static readonly PairKey Comparer = new();

    public static long Of(int left, int right) => ((long)left << 32) | (uint)right;
    public static int Left(long key) => (int)(key >> 32);
    public static int Right(long key) => (int)(key & 0xFFFFFFFF);

    public bool Equals(long x, long y) => x == y;

    public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32); // Fibonacci hashing
}
