using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>Generation through ONNX Runtime with IO binding, against the independent reference forward pass.</summary>
public sealed class GeneratorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _checkpoint, _portable, _fused;

    public GeneratorTests() => (_checkpoint, _portable, _fused) = TinyModel.Export(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private int[] ReferenceGreedy(int[] prompt, int count)
    {
        using var checkpoint = Gpt2Checkpoint.Open(_checkpoint);
        return new ReferenceGpt2(checkpoint).Greedy(prompt, count);
    }

    private static LanguageModel Load(string dir) =>
        LanguageModel.Load(dir, new SessionSettings { IntraOpThreads = 1 });
    private static SamplingOptions Greedy(int n) => new() { Greedy = true, MaxNewTokens = n, StopTokenIds = [] };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Greedy_output_equals_the_reference_recomputing_everything_each_step(bool fused)
    {
        using var model = Load(fused ? _fused : _portable);
        using var generator = new Generator(model);
        int[] prompt = [10, 200, 33, 7];
        // The reference has no cache and no end-of-text rule, so compare the tokens before any end-of-text.
        var expected = ReferenceGreedy(prompt, 12).TakeWhile(t => t != model.EndOfTextId).ToArray();
        var actual = generator.Generate(new GenerationRequest { PromptIds = prompt, Options = Greedy(12) }).TokenIds;
        Assert.Equal(expected, actual.Take(expected.Length));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_batch_of_prompts_of_different_lengths_gives_each_prompts_own_result(bool fused)
    {
        using var model = Load(fused ? _fused : _portable);
        using var generator = new Generator(model);
        int[][] prompts = [[5], [10, 200, 33, 7, 8, 9, 90], [42, 42, 43]];
        var alone = prompts.Select(p => generator.Generate(new GenerationRequest { PromptIds = p,
                                                                                   Options = Greedy(8) }).TokenIds)
                                                                                       .ToList();
        var together = generator.Generate(prompts.Select(p => new GenerationRequest { PromptIds = p,
                                                                                      Options = Greedy(8) }).ToList());
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(alone[i], together[i].TokenIds);
    }

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void Fp16_exports_keep_a_float16_cache_and_generate_what_fp32_generates(GraphVariant variant)
    {
        string fp16 = Path.Combine(_dir, "fp16-" + variant);
        OnnxExporter.Export(_checkpoint, fp16, new ExportOptions { Variant = variant, Precision = Precision.Fp16 });
        using var half = Load(fp16);
        using var full = Load(variant == GraphVariant.Fused ? _fused : _portable);
        Assert.Equal(TensorElementType.Float16, half.CacheType);
        Assert.Equal(TensorElementType.Float, full.CacheType);
        int[][] prompts = [[5], [10, 200, 33, 7, 8, 9, 90], [42, 42, 43]];
        var requests = prompts.Select(p => new GenerationRequest { PromptIds = p, Options = Greedy(10) }).ToList();
        using var halfGenerator = new Generator(half);
        using var fullGenerator = new Generator(full);
        var expected = fullGenerator.Generate(requests).Select(r => r.TokenIds).ToList();
        Assert.Equal(expected, halfGenerator.Generate(requests).Select(r => r.TokenIds));
        // Continuous batching refills a slot through a view of its row of the float16 cache.
        using var engine = new BatchEngine(half, maxBatch: 2, maxLength: 32);
        var items = requests.Select((r, i) => new BatchItem(i.ToString(), r)).ToList();
        Assert.Equal(expected, engine.Run(items).OrderBy(o => o.Id).Select(o => o.Result!.TokenIds));
    }

    [Fact]
    public void The_tail_of_a_continuous_batch_gathers_busy_slots_forward_without_changing_any_result()
    {
        using var model = Load(_fused);
        using var generator = new Generator(model);
        // Slot 0 ends first while slots 1 and 2 run on: with nothing left to read, slot 2 moves to slot 0
        // and the batch shrinks to two; later slot 1 ends and the batch shrinks to one.
        int[][] prompts = [[5, 6], [10, 200, 33, 7, 8], [42, 42, 43]];
        int[] lengths = [2, 9, 14];
        var requests = prompts.Select((p, i) => new GenerationRequest { PromptIds = p, Options = Greedy(lengths[i]) })
            .ToList();
        var alone = requests.Select(r => generator.Generate(r).TokenIds).ToList();
        using var engine = new BatchEngine(model, maxBatch: 3, maxLength: 32);
        var results = engine.Run(requests.Select((r, i) => new BatchItem(i.ToString(), r)))
            .Select(o => o.Result!.TokenIds).ToList();
        Assert.Equal(alone, results);
        Assert.Equal(lengths, results.Select(r => r.Length));
    }

    [Fact]
    public void Continuous_batching_of_random_lengths_and_options_gives_every_request_its_own_result()
    {
        using var model = Load(_fused);
        using var generator = new Generator(model);
        var random = new Random(12);
        var requests = Enumerable.Range(0, 14).Select(i => new GenerationRequest
        {
            PromptIds = Enumerable.Range(0, random.Next(1, 12)).Select(_ => random.Next(model.VocabSize)).ToArray(),
            Options = new SamplingOptions { MaxNewTokens = random.Next(1, 20), Temperature = i % 3 == 0 ? 0 : 0.9,
                                            TopK = 30, Seed = (ulong)i, StopTokenIds = [] },
        }).ToList();
        var alone = requests.Select(r => generator.Generate(r).TokenIds).ToList();
        using var engine = new BatchEngine(model, maxBatch: 5, maxLength: 40);
        var together = engine.Run(requests.Select((r, i) => new BatchItem(i.ToString(), r)))
            .Select(o => o.Result!.TokenIds).ToList();
        Assert.Equal(alone, together);
    }

    [Fact]
    public void Prefilling_prompts_of_similar_length_together_and_stepping_live_slots_only_change_no_result_or_order()
    {
        using var model = Load(_fused);
        using var generator = new Generator(model);
        var random = new Random(31);
        // A batch of 16 steps only its live slots (gathered forward), refills once 2 slots are free, in groups of
        // prompts 2 tokens apart at most, taken out of order from a lookahead of 32.
        int[] promptLengths = [3, 4, 5, 9, 10, 17];
        var requests = Enumerable.Range(0, 48).Select(i => new GenerationRequest
        {
            PromptIds = Enumerable.Range(0, promptLengths[random.Next(promptLengths.Length)])
                .Select(_ => random.Next(model.VocabSize)).ToArray(),
            Options = new SamplingOptions { MaxNewTokens = random.Next(1, 12), Temperature = i % 2 == 0 ? 0 : 0.8,
                                            TopP = 0.9, Seed = (ulong)i, StopTokenIds = [] },
        }).ToList();
        var alone = requests.Select(r => generator.Generate(r).TokenIds).ToList();
        using var engine = new BatchEngine(model, maxBatch: 16, maxLength: 32);
        var outputs = engine.Run(requests.Select((r, i) => new BatchItem(i.ToString(), r))).ToList();
        Assert.Equal(Enumerable.Range(0, 48).Select(i => i.ToString()), outputs.Select(o => o.Id));
        Assert.Equal(alone, outputs.Select(o => o.Result!.TokenIds));
        // A static batch on the fused graph prefills its consecutive prompts of similar length together.
        Assert.Equal(alone.Take(16), generator.Generate(requests.Take(16).ToList()).Select(r => r.TokenIds));
    }

    [Fact]
    public void A_profiled_session_writes_a_trace_of_every_operator_when_it_closes()
    {
        string prefix = Path.Combine(_dir, "trace");
        using (var model = LanguageModel.Load(_fused,
                                              new SessionSettings { IntraOpThreads = 1, ProfilePrefix = prefix }))
        using (var generator = new Generator(model))
            generator.Generate(new GenerationRequest { PromptIds = [1, 2, 3], Options = Greedy(3) });
        var events = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Directory.GetFiles(_dir,
            "trace_*.json").Single()))!.AsArray();
        Assert.Contains(events, e => (string?)e!["name"] == "model_run");
        Assert.Contains(events, e => (string?)e!["args"]?["op_name"] == "GroupQueryAttention");
    }

    [Fact]
    public void On_the_cpu_the_portable_graphs_gelu_runs_fused_and_its_projections_carry_their_biases()
    {
        // The graph is standard ONNX; ONNX Runtime's optimiser fuses its GELU only when the nodes come in the
        // order it recognises, so a reordering would slow every portable model down without changing a result.
        string prefix = Path.Combine(_dir, "portable_trace");
        int layers;
        using (var model = LanguageModel.Load(_portable,
                                              new SessionSettings { IntraOpThreads = 1, ProfilePrefix = prefix }))
        using (var generator = new Generator(model))
        {
            layers = model.Layers;
            generator.Generate(new GenerationRequest { PromptIds = [1, 2, 3], Options = Greedy(2) });
        }
        var events = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Directory.GetFiles(_dir,
            "portable_trace_*.json").Single()))!.AsArray();
        var ops = events.Select(e => (string?)e!["args"]?["op_name"]).Where(op => op != null).ToList();
        int runs = events.Count(e => (string?)e!["name"] == "model_run");
        Assert.Equal(layers * runs, ops.Count(op => op == "FastGelu"));
        Assert.DoesNotContain("Tanh", ops);
        Assert.DoesNotContain("Pow", ops);
        // four projections a layer and the LM head
        Assert.Equal((4 * layers + 1) * runs, ops.Count(op => op == "Gemm"));
    }

    [Fact]
    public void Each_sequence_of_a_batch_stops_on_its_own()
    {
        using var model = Load(_portable);
        using var generator = new Generator(model);
        var results = generator.Generate([
            new GenerationRequest { PromptIds = [1, 2], Options = Greedy(3) },
            new GenerationRequest { PromptIds = [3], Options = Greedy(9) },
        ]);
        Assert.Equal(3, results[0].TokenIds.Length);
        Assert.Equal(FinishReasons.Length, results[0].FinishReason);
        Assert.Equal(9, results[1].TokenIds.Length);
    }

    [Fact]
    public void Sampling_is_reproducible_by_seed_and_the_same_in_both_variants()
    {
        using var portable = Load(_portable);
        using var fused = Load(_fused);
        var options = new SamplingOptions { Temperature = 1.5, TopK = 50, Seed = 77, MaxNewTokens = 16,
                                            StopTokenIds = [] };
        var request = new GenerationRequest { Prompt = "the quick", Options = options };
        using var g1 = new Generator(portable);
        using var g2 = new Generator(fused);
        var a = g1.Generate(request).TokenIds;
        Assert.Equal(a, g1.Generate(request).TokenIds);
        Assert.Equal(a, g2.Generate(request).TokenIds);
        Assert.NotEqual(a, g1.Generate(request with { Options = options with { Seed = 78 } }).TokenIds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_generator_reused_for_a_smaller_then_a_larger_batch_gives_each_its_own_result(bool fused)
    {
        // The decoder is kept while it is big enough: batches of 3, then 1, then 3 again share it.
        using var model = Load(fused ? _fused : _portable);
        using var shared = new Generator(model);
        var three = new[] { "the quick", "hello",
                            "fox" }.Select(p => new GenerationRequest { Prompt = p, Options = Greedy(5) }).ToList();
        var expected = three.Select(r => { using var alone = new Generator(model); return alone.Generate(r).TokenIds; })
            .ToList();
        shared.Generate(three);
        Assert.Equal(expected[1], shared.Generate([three[1]])[0].TokenIds);
        Assert.Equal(expected, shared.Generate(three).Select(r => r.TokenIds));
    }

    [Fact]
    public void A_vocabulary_padded_beyond_the_tokenizer_never_yields_a_padding_id()
    {
        // nanoGPT pads GPT-2's vocabulary to 50304 rows; here the tokenizer's ids and random padding rows up to 400.
        var (_, portable, _) = TinyModel.Export(Path.Combine(_dir, "padded"), vocab: 400);
        using var model = Load(portable);
        int decodable = model.Tokenizer.VocabSize;
        Assert.True(decodable < 300 && model.VocabSize == 400);
        using var generator = new Generator(model);
        var options = new SamplingOptions { Temperature = 5, Seed = 3, MaxNewTokens = 56, StopTokenIds = [] };
        var ids = generator.Generate(new GenerationRequest { Prompt = "the quick", Options = options }).TokenIds;
        Assert.Equal(56, ids.Length); // the model's 64 positions, less the prompt
        Assert.All(ids, id => Assert.InRange(id, 0, decodable - 1));
    }

    [Fact]
    public void Streamed_pieces_join_to_the_final_text()
    {
        using var model = Load(_portable);
        using var generator = new Generator(model);
        var pieces = new List<string>();
        var result = generator.Generate(new GenerationRequest { Prompt = "床前",
                                                                Options = new SamplingOptions { Seed = 5,
            MaxNewTokens = 20 } }, pieces.Add);
        Assert.Equal(result.Text, string.Concat(pieces));
        // A random model may emit invalid UTF-8 (shown as U+FFFD), but a piece never ends inside a character.
        Assert.All(pieces, p => Assert.False(char.IsHighSurrogate(p[^1])));
    }

    [Fact]
    public void A_stop_string_ends_generation_and_is_not_returned()
    {
        using var model = Load(_portable);
        using var generator = new Generator(model);
        var free = generator.Generate(new GenerationRequest { Prompt = "hello",
                                                              Options = new SamplingOptions { Seed = 9,
            MaxNewTokens = 30, StopTokenIds = [] } });
        Assert.True(free.Text.Length >= 4);
        string stop = free.Text.Substring(2, 2);
        var stopped = generator.Generate(new GenerationRequest { Prompt = "hello",
                                                                 Options = new SamplingOptions { Seed = 9,
            MaxNewTokens = 30, StopTokenIds = [], StopStrings = [stop] } });
        Assert.Equal(FinishReasons.StopString, stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
    }

    [Fact]
    public void No_requests_give_no_results()
    {
        using var model = Load(_fused);
        using var generator = new Generator(model);
        Assert.Empty(generator.Generate([])); // before: "Sequence contains no elements"
        using var engine = new BatchEngine(model, maxBatch: 2);
        Assert.Empty(engine.Run([]));
        Assert.Empty(engine.Run([], continuous: false));
    }

    [Fact]
    public void A_request_with_both_text_and_ids_is_refused_rather_than_one_of_them_dropped()
    {
        using var model = Load(_fused);
        using var generator = new Generator(model);
        var error = Assert.Throws<Gpt2OnnxException>(() => generator.Generate(new GenerationRequest { Prompt = "the",
            PromptIds = [1, 2], Options = Greedy(2) }));
        Assert.Contains("both Prompt and PromptIds", error.Message);
    }

    [Fact]
    public void An_empty_prompt_starts_from_end_of_text()
    {
        using var model = Load(_portable);
        using var generator = new Generator(model);
        var result = generator.Generate(new GenerationRequest { Prompt = "", Options = Greedy(2) });
        Assert.Equal([model.EndOfTextId], result.PromptIds);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_an_error_or_truncated_on_request()
    {
        using var model = Load(_portable);
        using var generator = new Generator(model);
        var ids = Enumerable.Range(1, 80).ToArray(); // the context is 64
        var error = Assert.Throws<Gpt2OnnxException>(() => generator.Generate(new GenerationRequest { PromptIds = ids,
            Options = Greedy(4) }));
        Assert.Contains("context", error.Message);
        var result = generator.Generate(new GenerationRequest { PromptIds = ids, Options = Greedy(4),
                                                                TruncatePromptLeft = true });
        Assert.Equal(ids[^60..], result.PromptIds);
        Assert.Equal(4, result.TokenIds.Length);
    }

    [Fact]
    public async Task Generate_echoes_a_prompt_the_model_took_and_refuses_one_it_cannot_with_the_error_alone()
    {
        string tooLong = string.Concat(Enumerable.Repeat(" a", 80)); // the context is 64
        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run", "generate", "--model", _portable, "--prompt", tooLong,
                                      "--max-new-tokens", "2", "--threads", "1");
        Assert.NotEqual(0, exitCode);
        Assert.Equal("", stdout); // before, the prompt was echoed and then refused
        Assert.Contains("context", Assert.Single(stderr.TrimEnd('\n').Split('\n')));
        (exitCode, stdout, _) = await CliProcess.RunAsync("gpt2-run", "generate", "--model", _portable, "--prompt",
                                                          " a a", "--max-new-tokens", "2", "--threads", "1");
        Assert.Equal(0, exitCode);
        Assert.StartsWith(" a a", stdout);
    }

    [Fact]
    public void A_request_for_more_new_tokens_than_the_context_is_refused()
    {
        // Storage for the whole count was reserved up front: "Out of memory" and exit 134.
        using var model = Load(_fused);
        using var generator = new Generator(model);
        var request = new GenerationRequest { PromptIds = [1, 2], Options = Greedy(int.MaxValue) };
        var error = Assert.Throws<Gpt2OnnxException>(() => generator.Generate(request));
        Assert.Contains("max new tokens 2147483647 is more than the model's context of 64 tokens", error.Message);
    }

    [Fact]
    public async Task The_bench_command_refuses_a_batch_beyond_memory_before_making_its_prompts()
    {
        // --batch 2147483647 made the prompts first (2^31 arrays) and aborted out of memory.
        string[] arguments = ["bench", "--model", _fused, "--prompt-len", "8", "--new-tokens", "8", "--threads", "1"];
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", [.. arguments, "--batch", "2147483647"]);
        Assert.Equal(1, exitCode);
        Assert.StartsWith("error: a batch of 2147483647 sequences of up to 19 tokens needs", stderr);
    }

    [Theory]
    [InlineData("--max-new-tokens", "2147483647")]
    [InlineData("--max-new-tokens", "65")]
    public async Task The_generate_command_refuses_a_count_beyond_the_context_naming_it(string option, string value)
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run", "generate", "--model", _portable,
                                                                   "--prompt", "a", option, value, "--threads", "1");
        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith($"error: {option} {value} is more than the model's context of 64 tokens", stderr);
    }

    [Fact]
    public async Task The_batch_command_refuses_a_default_count_beyond_the_context_before_any_row()
    {
        // Every row was written as an error (an overflow: "maximum length of 1"), and the errors counted as done.
        string input = Path.Combine(_dir, "rows.jsonl"), output = Path.Combine(_dir, "rows-out.jsonl");
        File.WriteAllText(input, "{\"id\": 1, \"prompt\": \"a\"}\n");
        string[] arguments = ["batch", "--model", _fused, "--input", input, "--output", output, "--threads", "1"];
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", [.. arguments, "--max-new-tokens", "9999"]);
        Assert.Equal(2, exitCode);
        Assert.StartsWith("error: --max-new-tokens 9999 is more than the model's context of 64 tokens", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task A_prompt_file_is_read_exactly_as_the_same_text_given_inline()
    {
        string file = Path.Combine(_dir, "prompt.txt"), text = " a line\n and another\n";
        File.WriteAllText(file, text);
        string[] rest = ["--model", _portable, "--max-new-tokens", "3", "--seed", "5", "--json", "--threads", "1"];
        var inline = await CliProcess.RunAsync("gpt2-run", ["generate", "--prompt", text, .. rest]);
        var fromFile = await CliProcess.RunAsync("gpt2-run", ["generate", "--prompt-file", file, .. rest]);
        Assert.True(inline.ExitCode == 0, inline.Stderr);
        static string Tokens(string json) =>
            string.Join("|", new[] { "prompt_ids", "ids",
            "text" }.Select(k => System.Text.Json.Nodes.JsonNode.Parse(json)![k]!.ToJsonString()));
        Assert.Equal(Tokens(inline.Stdout), Tokens(fromFile.Stdout)); // the line breaks included
        var both = await CliProcess.RunAsync("gpt2-run",
                                             ["generate", "--prompt", text, "--prompt-file", file, .. rest]);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("give --prompt or --prompt-file, not both", both.Stderr);
    }

    [Fact]
    public void Generation_stops_at_the_context_limit()
    {
        using var model = Load(_fused);
        using var generator = new Generator(model);
        var result = generator.Generate(new GenerationRequest { PromptIds = Enumerable.Range(1, 60).ToArray(),
                                                                Options = Greedy(30) });
        Assert.Equal(FinishReasons.Length, result.FinishReason);
        Assert.True(result.PromptIds.Length + result.TokenIds.Length <= 64);
    }

    [Fact]
    public void A_checkpoint_given_as_a_model_is_told_to_be_exported_and_an_export_given_as_a_checkpoint_is_told_apart()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Load(_checkpoint));
        Assert.Contains("is a checkpoint, not an ONNX export: export it first with 'gpt2-export --checkpoint",
                        error.Message);
        error = Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(_fused));
        Assert.Contains("is an ONNX export (model.onnx), not a checkpoint", error.Message);
    }

    [Fact]
    public void A_folder_missing_a_file_is_a_clear_error()
    {
        File.Delete(Path.Combine(_portable, "genai_config.json"));
        File.Delete(Path.Combine(_portable, "config.json")); // with either, the folder loads
        var error = Assert.Throws<Gpt2OnnxException>(() => Load(_portable));
        Assert.Contains("lacks genai_config.json", error.Message);
    }

    [Theory]
    [InlineData(0, "No graph was found in the protobuf")]
    [InlineData(1000, "Protobuf parsing failed")]
    public void A_damaged_graph_is_one_line_naming_the_file(int keptBytes, string expected)
    {
        string graph = Path.Combine(_portable, "model.onnx");
        var bytes = File.ReadAllBytes(graph);
        File.WriteAllBytes(graph, bytes[..keptBytes]);
        var error = Assert.Throws<Gpt2OnnxException>(() => Load(_portable));
        Assert.Contains(graph, error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain("\n", error.Message);
        Assert.DoesNotContain(".cc:", error.Message); // ORT's source location and C++ signature are left out
    }

    [Fact]
    public void A_CUDA_device_in_a_build_with_the_CPU_package_says_how_to_get_one_and_auto_falls_back_to_the_CPU()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => LanguageModel.Load(_fused,
            new SessionSettings { Device = "cuda:0" }));
        Assert.Contains("CPU package, which has no CUDA provider", error.Message);
        Assert.Contains("-p:OnnxRuntimeGpu=true", error.Message);
        Assert.Contains("--device cpu", error.Message);
        using var model = LanguageModel.Load(_fused, new SessionSettings { Device = "auto", IntraOpThreads = 1 });
        Assert.Equal("cpu", model.Session.Device.Name);
        using var generator = new Generator(model);
        Assert.Equal(3, generator.Generate(new GenerationRequest { PromptIds = [1, 2],
                                                                   Options = Greedy(3) }).TokenIds.Length);
        Assert.Contains("not a device",
                        Assert.Throws<Gpt2OnnxException>(() => LanguageModel.Load(_fused,
            new SessionSettings { Device = "gpu" })).Message);
    }

    [Fact]
    public async Task A_CUDA_device_on_the_command_line_is_one_error_line()
    {
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", "generate", "--model", _fused, "--prompt-ids",
                                                              "1,2",
                                                              "--max-new-tokens", "1", "--device", "cuda:0");
        Assert.Equal(1, exitCode);
        Assert.Contains("no CUDA provider", stderr);
        Assert.DoesNotContain(".cc:", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    /// <summary>A copy of the portable export without genai_config.json: the graph, config.json and the tokenizer, as
    /// Optimum writes a folder.</summary>
    private string PortableWithoutGenaiConfig(string name)
    {
        string folder = Path.Combine(_dir, name);
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(_portable).Where(f => Path.GetFileName(f) != "genai_config.json"))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    [Fact]
    public void A_folder_with_only_a_Hugging_Face_config_as_Optimum_writes_it_generates_the_same_tokens()
    {
        string optimum = PortableWithoutGenaiConfig("optimum-style");
        using var ours = Load(_portable);
        using var theirs = Load(optimum);
        Assert.Equal((ours.Layers, ours.Heads, ours.HeadSize, ours.ContextLength, ours.VocabSize, ours.EndOfTextId),
                     (theirs.Layers, theirs.Heads, theirs.HeadSize, theirs.ContextLength, theirs.VocabSize,
                      theirs.EndOfTextId));
        var request = new GenerationRequest { Prompt = "the quick", Options = Greedy(12) };
        using var a = new Generator(ours);
        using var b = new Generator(theirs);
        Assert.Equal(a.Generate(request).TokenIds, b.Generate(request).TokenIds);
    }

    [Fact]
    public void A_Hugging_Face_config_that_contradicts_the_graph_is_refused_by_name()
    {
        string folder = PortableWithoutGenaiConfig("contradicting");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder,
                                                                                         "config.json")))!.AsObject();
        config["n_layer"] = 5;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        Assert.Contains("config.json says 5 layers, but the graph has 2 past key inputs",
                        Assert.Throws<Gpt2OnnxException>(() => Load(folder)).Message);
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(1_000_000)]
    public void A_thread_count_outside_the_cores_is_refused_before_the_session_is_made(int threads) =>
        Assert.Contains($"{threads} threads: give 0 (one per core) to the {Environment.ProcessorCount} cores",
            Assert.Throws<Gpt2OnnxException>(() => LanguageModel.Load(_portable,
                                                                      new SessionSettings { IntraOpThreads = threads }))
                                                                          .Message);

    [Fact]
    public void A_batch_too_large_for_memory_is_refused_before_anything_is_allocated()
    {
        using var model = Load(_fused);
        var error = Assert.Throws<Gpt2OnnxException>(() => new BatchEngine(model, maxBatch: 100_000_000,
                                                                           maxLength: 64));
        Assert.Contains("a batch of 100000000 sequences of up to 64 tokens needs", error.Message);
        Assert.Contains("lower the batch (--max-batch) or the length (--max-length)", error.Message);
    }

    [Fact]
    public void An_oversized_config_is_refused_before_it_is_read()
    {
        File.WriteAllText(Path.Combine(_portable, "genai_config.json"),
                          "{\"model\": \"" + new string('x', 2 << 20) + "\"}");
        Assert.Contains("over 1 MB", Assert.Throws<Gpt2OnnxException>(() => Load(_portable)).Message);
    }

    [Theory]
    [InlineData("num_hidden_layers", "3", "3 layers, but the graph has 2 past key inputs")]
    [InlineData("num_attention_heads", "8", "gives the attention heads as 8")]
    [InlineData("head_size", "32", "gives the head size as 32")]
    [InlineData("vocab_size", "1000000", "gives the vocabulary size as 1000000")]
    [InlineData("context_length", "2000000000", "a context of 2000000000 tokens")]
    [InlineData("eos_token_id", "-4", "end-of-text is id -4")]
    [InlineData("num_hidden_layers", "\"2\"", "has no whole number for 'num_hidden_layers'")]
    [InlineData("head_size", "1.5", "has no whole number for 'head_size'")]
    // A whole number past int's range was "no whole number" too.
    [InlineData("head_size", "1e99", "has 'head_size' 1E+99, past the largest this runtime takes (2147483647)")]
    [InlineData("context_length", "1000000000000", "has 'context_length' 1000000000000, past the largest this runtime")]
    public void A_config_that_contradicts_its_graph_or_is_hostile_is_refused_before_anything_is_allocated(string key,
        string value, string expected)
    {
        string path = Path.Combine(_portable, "genai_config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        var owner = config["model"]![key] != null ? config["model"]! : config["model"]!["decoder"]!;
        owner[key] = System.Text.Json.Nodes.JsonNode.Parse(value);
        File.WriteAllText(path, config.ToJsonString());
        var error = Assert.Throws<Gpt2OnnxException>(() => Load(_portable));
        Assert.Contains(expected, error.Message);
        Assert.Contains("genai_config.json", error.Message);
    }

    [Fact]
    public void A_group_refill_gives_each_prompt_the_logits_it_gets_alone_bit_for_bit()
    {
        using var model = Load(_fused);
        int[][] prompts = [[7, 8, 9, 10, 11], [1, 2, 3, 4, 5, 6, 7], [40, 41, 42, 43, 44, 45]];
        using var together = model.CreateDecoder(4, 32);
        together.StartEmpty(4);
        together.RefillSlots(1, prompts); // rows 1-3 in one right-padded run, row 0 left empty
        together.ResizeBatch(4);
        for (int b = 0; b < prompts.Length; b++)
        {
            using var alone = model.CreateDecoder(1, 32);
            alone.Prefill([prompts[b]]);
            Assert.Equal(alone.Logits(0).ToArray(), together.Logits(b + 1).ToArray());
            Assert.Equal(prompts[b].Length, together.Length(b + 1));
            alone.Step([99]);
            together.Step([99, 99, 99, 99]);
            Assert.Equal(alone.Logits(0).ToArray(), together.Logits(b + 1).ToArray());
            together.StartEmpty(4);
            together.RefillSlots(1, prompts);
        }
    }
}
