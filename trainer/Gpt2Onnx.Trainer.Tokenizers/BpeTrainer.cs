using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Tokenizers;

/// <summary>
/// Learns a GPT-2-style byte-level BPE vocabulary from texts: the 256 byte symbols, merges learned over
/// GPT-2 pieces, and &lt;|endoftext|&gt; last. Writes vocab.json + merges.txt that Hugging Face tokenizers
/// and tiktoken-style loaders read.
/// </summary>
public static class BpeTrainer
{
    /// <param name="texts">the corpus, one document per item</param>
    /// <param name="vocabSize">the size of the result, the 256 byte symbols and the end-of-text token included</param>
    /// <param name="minFrequency">a pair seen fewer times is never merged</param>
    public static BpeTokenizer Train(IEnumerable<string> texts, int vocabSize, long minFrequency = 2)
    {
        if (vocabSize < 257)
            throw new Gpt2OnnxException("a byte-level BPE vocabulary needs at least 257 tokens (256 bytes and " +
                                        $"end-of-text), not {vocabSize}");
        var pieces = CountPieces(texts);

        var symbols = new List<string>(vocabSize);
        var symbolOfByte = new int[256];
        for (int b = 0; b < 256; b++)
        {
            symbolOfByte[b] = symbols.Count;
            symbols.Add(ByteLevelAlphabet.ByteToChar((byte)b).ToString());
        }
        // a fixed order: the result never depends on threads
        var words = pieces.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => (p.Key.Select(c => symbolOfByte[ByteLevelAlphabet.CharToByte(c)]).ToArray(), p.Value))
            .ToList();

        var merger = new PairMerger(symbols, words, (a, b) => a + b);
        var merges = merger.Run(vocabSize - 257, minFrequency);

        var vocab = new Dictionary<string, int>(symbols.Count + 1);
        for (int i = 0; i < symbols.Count; i++) vocab[symbols[i]] = i;
        vocab[SpecialTokens.Gpt2EndOfText] = symbols.Count;
        var mergeList = merges.Select(m => (symbols[m.Left], symbols[m.Right])).ToList();
        return BpeTokenizer.Create(vocab, mergeList);
    }

    /// <summary>How often each GPT-2 piece occurs, spelled in the byte-level alphabet; counted in parallel.</summary>
    private static Dictionary<string, long> CountPieces(IEnumerable<string> texts) =>
        ParallelCounter.Count(texts, (text, counts) =>
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            int position = 0;
            while (position < utf8.Length)
            {
                int end = Gpt2PreTokenizer.NextPieceEnd(utf8, position);
                string piece = ByteLevelAlphabet.ToText(utf8.AsSpan(position, end - position));
                counts[piece] = counts.GetValueOrDefault(piece) + 1;
                position = end;
            }
        });
}
