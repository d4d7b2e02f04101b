using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>
/// <c>gpt2-run bench</c>: prefill time, per-token latency, throughput, host share, allocations and peak RSS of
/// one model; or several models and peers side by side in one process, alternating over rounds. Each graph's
/// roofline comes with it: the weights a decode step reads, against the memory bandwidth measured in the process.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var flags = new ModelFlags();
        var models = new Option<string[]>("--model")
        {
            Description = "ONNX folder written by gpt2-export (repeat it to time several graphs side by side)",
            Required = true,
        };
        var peers = new Option<string[]>("--peer")
        {
            Description = "an ONNX folder timed as an application without IO binding runs it (a Run per token, ONNX " +
                          "Runtime's own allocator), side by side with the models (repeatable)",
        };
        var rounds = new Option<int>("--rounds")
        {
            Description = "time every graph this many times, alternating them (forwards, then backwards), and report " +
                          "each one's median round",
            DefaultValueFactory = _ => 1,
        };
        var batch = new Option<int>("--batch") { Description = "sequences decoded together",
                                                 DefaultValueFactory = _ => 1 };
        var promptLength = new Option<int>("--prompt-len") { Description = "prompt tokens per sequence",
                                                             DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "tokens generated per sequence (timed)",
                                                          DefaultValueFactory = _ => 128 };
        var noBinding = new Option<bool>("--no-io-binding") { Description = "time the models as --peer does: a Run " +
                                                                            "per token without IO binding" };
        var products = new Option<bool>("--products")
        {
            Description = "also time each model's weight products alone (its MatMul, Gemm, FusedMatMul and " +
                          "MatMulNBits, fed from inputs, nothing else) as each round starts: the floor ONNX " +
                          "Runtime's kernels put under a step",
        };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var command = new Command("bench", "measure generation speed on random prompts") { models, peers, rounds, batch,
            promptLength, newTokens, noBinding, products, json };
        flags.AddSessionOptionsTo(command);
        command.SetAction(parsed =>
        {
            foreach (var count in new[] { batch, promptLength, newTokens, rounds })
                Gpt2Onnx.Cli.CliHost.Require(parsed.GetValue(count) > 0,
                                             $"{count.Name} must be positive, not {parsed.GetValue(count)}");
            var settings = flags.Settings(parsed);
            var loaded = new List<(LanguageModel Model, bool IoBinding)>();
            try
            {
                foreach (var directory in parsed.GetValue(models)!)
                    loaded.Add((LanguageModel.Load(directory, settings), !parsed.GetValue(noBinding)));
                foreach (var directory in parsed.GetValue(peers) ?? [])
                    loaded.Add((LanguageModel.Load(directory, settings), false));
                int modelCount = parsed.GetValue(models)!.Length;
                var bench = new Bench(loaded.Select(l => new BenchRow(l.Model, l.IoBinding)).ToList(), settings,
                                      parsed.GetValue(batch), parsed.GetValue(promptLength), parsed.GetValue(newTokens),
                                      parsed.GetValue(rounds), parsed.GetValue(products) ? modelCount : 0);
                if (loaded.Count == 1 && parsed.GetValue(rounds) == 1) bench.PrintOne(parsed.GetValue(json));
                else bench.PrintSideBySide(parsed.GetValue(json), modelCount);
            }
            finally
            {
                foreach (var (model, _) in loaded) model.Dispose();
            }
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The timed runs of every row, each round's memory bandwidth and weight products, and how they are printed.
    /// </summary>
    private sealed class Bench
    {
        private readonly IReadOnlyList<BenchRow> _rows;
        private readonly BenchResult[][] _results;      // [row][round]
        private readonly double[] _bandwidth;           // bytes/s read, measured as each round starts
        private readonly long[] _weightBytes;          // the model's files
        private readonly long[] _stepBytes;            // weights a decode step at batch 1 reads
        private readonly double[][] _productsMs;       // [row][round] for the first rows asked for, timed likewise
        private readonly int[] _productCounts;

        /// <summary>Times every row; the first <paramref name="productRows"/> rows' weight products too.</summary>
        public Bench(IReadOnlyList<BenchRow> rows, SessionSettings settings, int batch, int promptLength,
                     int newTokens, int rounds, int productRows)
        {
            _rows = rows;
            _bandwidth = new double[rounds];
            var products = new List<WeightProducts>();
            try
            {
                foreach (var row in rows.Take(productRows))
                    products.Add(new WeightProducts(row.Model.Session.ModelPath, batch, settings));
                _productsMs = products.Select(_ => new double[rounds]).ToArray();
                _productCounts = products.Select(p => p.Count).ToArray();
                _results = DecodeBenchmark.Rounds(rows, batch, promptLength, newTokens, rounds, round =>
                {
                    _bandwidth[round] = MemoryBandwidth.Measure(settings.IntraOpThreads);
                    for (int i = 0; i < products.Count; i++) _productsMs[i][round] = products[i].MedianRunMs();
                });
            }
            finally
            {
                foreach (var p in products) p.Dispose();
            }
            _weightBytes = rows.Select(r => Directory.EnumerateFiles(r.Model.Directory,
                                                                     "model.onnx*").Sum(f => new FileInfo(f).Length))
                                                                         .ToArray();
            _stepBytes = rows.Select(r => WeightTraffic.PerDecodeStep(r.Model.Session.ModelPath)).ToArray();
        }

        /// <summary>
        /// The roofline of a row's round: every step reads the weights once and yields one token per sequence,
        /// so no round can beat batch × bandwidth / bytes per step tokens/s.
        /// </summary>
        private double RooflineTokensPerSecond(int row, int round) =>
            _stepBytes[row] == 0 ? 0 : _results[row][round].Batch * _bandwidth[round] / _stepBytes[row];

        /// <summary>The median, over the rounds, of the share of its roofline each round reached.</summary>
        private double RooflineFraction(int row) =>
            Median(Enumerable.Range(0, _bandwidth.Length)
                .Select(k => _stepBytes[row] == 0
                        ? 0 : _results[row][k].TokensPerSecond / RooflineTokensPerSecond(row, k)));

        /// <summary>The median, over the rounds, of the roofline tokens/s.</summary>
        private double Roofline(int row) =>
            Median(Enumerable.Range(0, _bandwidth.Length).Select(k => RooflineTokensPerSecond(row, k)));

        private double Median(IEnumerable<double> perRound) => perRound.Order().ElementAt(_bandwidth.Length / 2);

        /// <summary>The median, over the rounds, of a run of the row's weight products; null when not timed.</summary>
        private double? ProductsMs(int row) => row < _productsMs.Length ? Median(_productsMs[row]) : null;

        /// <summary>
        /// The line that says how much of a row's step its weight products alone take: what ONNX Runtime's kernels
        /// leave to every other node and to the runtime.
        /// </summary>
        private string ProductsLine(int row, BenchResult step) =>
            $"weight products alone ({_productCounts[row]} nodes fed from inputs): {ProductsMs(row):F2} ms a run, " +
            $"{ProductsMs(row) / step.StepMsP50:P0} of the step's p50 {step.StepMsP50:F2} ms";

        public void PrintOne(bool json)
        {
            var r = _results[0][0];
            var model = _rows[0].Model;
            // The roofline: every step reads every weight once, so no step can beat this.
            double weightsReadMs = _stepBytes[0] / _bandwidth[0] * 1000;
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    mode = r.Mode, variant = model.Variant, precision = model.Precision, batch = r.Batch,
                    prompt_len = r.PromptLength,
                    new_tokens = r.NewTokens, prefill_ms = r.PrefillMs, token_ms_p50 = r.StepMsP50,
                    token_ms_p90 = r.StepMsP90,
                    tokens_per_s = r.TokensPerSecond, host_share = r.HostShare,
                    allocated_bytes_per_step = r.AllocatedBytesPerStep, peak_rss_bytes = r.PeakRssBytes,
                    rss_growth_bytes = r.RssGrowthBytes, weight_bytes = _weightBytes[0],
                    memory_bytes_per_s = _bandwidth[0], weights_read_ms = weightsReadMs,
                    weights_read_per_step_bytes = _stepBytes[0], roofline_tokens_per_s = Roofline(0),
                    roofline_fraction = RooflineFraction(0), products_ms = ProductsMs(0),
                }));
                return;
            }
            Console.WriteLine($"{model.Variant} {model.Precision}, {r.Mode}, batch {r.Batch}: prefill " +
                              $"{r.PrefillMs:F1} ms; step p50 {r.StepMsP50:F2} ms, p90 {r.StepMsP90:F2} ms; " +
                              $"{r.TokensPerSecond:F1} tokens/s; host {r.HostShare:P1} of each step; " +
                              $"{r.AllocatedBytesPerStep:F0} B allocated per step; peak RSS " +
                              $"{r.PeakRssBytes / 1e6:F0} MB, RSS growth over the timed steps " +
                              $"{r.RssGrowthBytes / 1e6:F1} MB");
            Console.WriteLine($"roofline: a step reads {_stepBytes[0] / 1e6:F1} MB of weights, {weightsReadMs:F2} ms " +
                              $"at the {_bandwidth[0] / 1e9:F1} GB/s measured here: at most {Roofline(0):F1} " +
                              $"tokens/s at batch {r.Batch}; reached {RooflineFraction(0):P1}");
            if (_productsMs.Length > 0) Console.WriteLine(ProductsLine(0, r));
        }

        private string FolderName(int row) =>
            Path.GetFileName(Path.TrimEndingDirectorySeparator(_rows[row].Model.Directory));

        /// <summary>The round whose tokens/s is the median of the row's rounds.</summary>
        private BenchResult Median(int row) =>
            _results[row].OrderBy(r => r.TokensPerSecond).ElementAt(_results[row].Length / 2);

        public void PrintSideBySide(bool json, int modelCount)
        {
            var first = _results[0][0];
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    batch = first.Batch, prompt_len = first.PromptLength, new_tokens = first.NewTokens,
                    rounds = _bandwidth.Length,
                    memory_bytes_per_s = _bandwidth, peak_rss_bytes = DecodeBenchmark.PeakRss(),
                    rows = _rows.Select((row, i) =>
                    {
                        var m = Median(i);
                        return new
                        {
                            model = row.Model.Directory, role = i < modelCount ? "model" : "peer", mode = m.Mode,
                            variant = row.Model.Variant,
                            precision = row.Model.Precision, weight_bytes = _weightBytes[i], prefill_ms = m.PrefillMs,
                            token_ms_p50 = m.StepMsP50,
                            token_ms_p90 = m.StepMsP90, tokens_per_s = m.TokensPerSecond, host_share = m.HostShare,
                            allocated_bytes_per_step = _results[i].Max(r => r.AllocatedBytesPerStep),
                            rounds_tokens_per_s = _results[i].Select(r => r.TokensPerSecond),
                            rounds_token_ms_p50 = _results[i].Select(r => r.StepMsP50),
                            weights_read_per_step_bytes = _stepBytes[i], roofline_tokens_per_s = Roofline(i),
                            roofline_fraction = RooflineFraction(i), products_ms = ProductsMs(i),
                            rounds_products_ms = i < _productsMs.Length ? _productsMs[i] : null,
                        };
                    }),
                }));
                return;
            }
            Console.WriteLine($"batch {first.Batch}, prompt {first.PromptLength}, {first.NewTokens} new tokens; " +
                              $"{_bandwidth.Length} round(s), alternating; each row its median round");
            Console.WriteLine($"  {"",-40} {"mode",-10} {"prefill ms",10} {"p50 ms",8} {"p90 ms",8} {"tokens/s",9} " +
                              $"{"host",6} {"B/step",7} {"MB read",8} {"roofline",9} {"reached",8}");
            for (int i = 0; i < _rows.Count; i++)
            {
                var m = Median(i);
                string name = (i < modelCount ? "" : "peer: ") + FolderName(i);
                Console.WriteLine($"  {name,-40} {m.Mode,-10} {m.PrefillMs,10:F1} {m.StepMsP50,8:F2} " +
                                  $"{m.StepMsP90,8:F2} {m.TokensPerSecond,9:F1} {m.HostShare,6:P1} " +
                                  $"{_results[i].Max(r => r.AllocatedBytesPerStep),7:F0} {_stepBytes[i] / 1e6,8:F1} " +
                                  $"{Roofline(i),9:F1} {RooflineFraction(i),8:P1}");
            }
            for (int i = 0; i < _productsMs.Length; i++)
                Console.WriteLine($"  {FolderName(i)}: {ProductsLine(i, Median(i))}");
            if (_rows.Count > modelCount)
                for (int i = 0; i < modelCount; i++)
                {
                    var ratios = Enumerable.Range(0, _bandwidth.Length)
                        .Select(k => _results[i][k].TokensPerSecond / _results[modelCount][k].TokensPerSecond)
                            .ToArray();
                    Console.WriteLine($"  {FolderName(i)} against the first peer: " +
                                      $"{ratios.Order().ElementAt(ratios.Length / 2):F2}x (rounds: " +
                                      $"{string.Join(", ", ratios.Select(r => r.ToString("F2")))})");
                }
            Console.WriteLine($"memory read at {string.Join(", ", _bandwidth.Select(b => (b / 1e9).ToString("F1")))} " +
                              "GB/s as the rounds started; peak RSS of the process " +
                              $"{DecodeBenchmark.PeakRss() / 1e6:F0} MB");
            Console.WriteLine("MB read: weights a decode step reads; roofline: batch × bandwidth / MB read, " +
                              "tokens/s; reached: tokens/s against it (each the median of the rounds)");
        }
    }
}
