using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Ours = Gpt2Onnx.Runtime.Tokenizers.BpeTokenizer;

// Usage: tokenizer-bench TOKENIZER_DIR TEXT_FILE ROUNDS
// Encodes every line of TEXT_FILE with ours and with Microsoft.ML.Tokenizers' two GPT-2 tokenizers, one thread,
// checks that all three give the same ids on every line, and prints one JSON object: MB/s (fastest round) per
// tokenizer, and the bytes our span-based API allocates per line once warm.
if (args.Length != 3 || !int.TryParse(args[2], out int rounds) || rounds < 1)
{
    Console.Error.WriteLine("usage: tokenizer-bench TOKENIZER_DIR TEXT_FILE ROUNDS");
    return 2;
}
string dir = args[0];
string[] lines = File.ReadAllLines(args[1]).Where(line => line.Length > 0).ToArray();
double megabytes = lines.Sum(line => Encoding.UTF8.GetByteCount(line)) / 1e6;

var ours = Ours.Load(dir);
var tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
// GPT-2's pre-tokenization pattern, so the library's generic BPE splits text as GPT-2 does.
var gpt2Pieces = new Regex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
                           RegexOptions.Compiled);
var bpe = BpeTokenizer.Create(new BpeOptions(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"))
{
    ByteLevel = true,
    PreTokenizer = new RegexPreTokenizer(gpt2Pieces, null),
});

int mismatches = 0;
var ids = new List<int>(1 << 12);
foreach (string line in lines)
{
    ids.Clear();
    ours.Encode(line, ids);
    if (!ids.SequenceEqual(tiktoken.EncodeToIds(line)) || !ids.SequenceEqual(bpe.EncodeToIds(line))) mismatches++;
}

double Fastest(Action<string> encode)
{
    double best = double.MaxValue;
    for (int round = 0; round < rounds; round++)
    {
        var clock = Stopwatch.StartNew();
        foreach (string line in lines) encode(line);
        best = Math.Min(best, clock.Elapsed.TotalSeconds);
    }
    return megabytes / best;
}

double oursRate = Fastest(line => { ids.Clear(); ours.Encode(line, ids); });
long before = GC.GetAllocatedBytesForCurrentThread();
foreach (string line in lines)
{
    ids.Clear();
    ours.Encode(line, ids);
}
double bytesPerLine = (double)(GC.GetAllocatedBytesForCurrentThread() - before) / lines.Length;
double tiktokenRate = Fastest(line => tiktoken.EncodeToIds(line));
double bpeRate = Fastest(line => bpe.EncodeToIds(line));

Console.WriteLine(JsonSerializer.Serialize(new
{
    lines = lines.Length, mb = megabytes, mismatches, ours = oursRate, tiktoken = tiktokenRate, bpe = bpeRate,
    ours_bytes_per_line = bytesPerLine,
}));
return 0;
