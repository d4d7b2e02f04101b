using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Batch;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>Batch jobs: continuous batching, order and ids, resume after a crash, sharding, bad rows.</summary>
public sealed class BatchJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _fused, _portable;

    public BatchJobTests() => (_, _portable, _fused) = TinyModel.Export(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Input(int rows, Func<int, string>? extra = null)
    {
        string path = Path.Combine(_dir, "in.jsonl");
        string[] prompts = ["the quick", "床前明月光，", "hello", "", "the lazy dog jumps over the", "fox"];
        File.WriteAllLines(path, Enumerable.Range(0, rows).Select(i =>
            $"{{\"id\": {(i % 2 == 0 ? i.ToString() : $"\"row-{i}\"")}, \"prompt\": " +
            $"\"{prompts[i % prompts.Length]}\", \"max_new_tokens\": {3 + i * 7 % 17}{extra?.Invoke(i) ?? ""}}}"));
        return path;
    }

    private BatchJobSummary Run(string input, string output, int shard = 0, int shards = 1, bool continuous = true,
                                bool skipErrors = false, string? model = null,
                                TextWriter? log = null, bool retryErrors = false)
    {
        using var languageModel = LanguageModel.Load(model ?? _fused, new SessionSettings { IntraOpThreads = 1 });
        return BatchJob.Run(languageModel, new BatchJobOptions
        {
            Input = input, Output = output, MaxBatch = 4, ShardIndex = shard, ShardCount = shards,
            Continuous = continuous, SkipErrors = skipErrors,
            RetryErrors = retryErrors,
        }, log ?? TextWriter.Null);
    }

    private static List<JsonObject> Rows(string path) =>
        File.ReadAllLines(path).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();

    [Fact]
    public void Every_row_comes_back_in_input_order_with_its_id_preserved()
    {
        string output = Path.Combine(_dir, "out.jsonl");
        Run(Input(13), output);
        var rows = Rows(output);
        Assert.Equal(13, rows.Count);
        for (int i = 0; i < 13; i++)
        {
            Assert.Equal(i % 2 == 0 ? i.ToString() : $"\"row-{i}\"", rows[i]["id"]!.ToJsonString());
            Assert.True(rows[i]["tokens"]!.GetValue<int>() <= 3 + i * 7 % 17);
        }
    }

    [Fact]
    public void Output_rows_keep_non_ascii_text_readable_and_valid()
    {
        string input = Path.Combine(_dir, "poem.jsonl"), output = Path.Combine(_dir, "poem-out.jsonl");
        File.WriteAllText(input, "{\"id\": \"詩-\\\"1\\\"\", \"prompt\": \"床前明月光\", \"max_new_tokens\": 2}\n");
        Run(input, output);
        string line = File.ReadAllLines(output).Single();
        Assert.StartsWith("{\"id\":\"詩-\\\"1\\\"\",", line); // as written, not \u8A69; the quotes still escaped
        Assert.Equal("詩-\"1\"", Rows(output)[0]["id"]!.GetValue<string>());
    }

    [Fact]
    public void Continuous_batching_gives_each_row_the_result_it_gets_alone()
    {
        string input = Input(10);
        string continuous = Path.Combine(_dir, "c.jsonl"), single = Path.Combine(_dir, "s.jsonl"),
        portable = Path.Combine(_dir, "p.jsonl");
        Run(input, continuous);
        using (var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 }))
        {
            var options = new BatchJobOptions { Input = input, Output = single, MaxBatch = 1 };
            BatchJob.Run(model, options, TextWriter.Null);
        }
        Run(input, portable, continuous: false, model: _portable); // static batches on the portable graph
        var a = Rows(continuous);
        var b = Rows(single);
        var c = Rows(portable);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(b[i]["completion"]!.GetValue<string>(), a[i]["completion"]!.GetValue<string>());
            Assert.Equal(b[i]["completion"]!.GetValue<string>(), c[i]["completion"]!.GetValue<string>());
            Assert.Equal(b[i]["seed"]!.GetValue<ulong>(), a[i]["seed"]!.GetValue<ulong>());
        }
    }

    [Fact]
    public void A_crash_mid_write_is_resumed_with_nothing_lost_or_duplicated()
    {
        string input = Input(9);
        string complete = Path.Combine(_dir, "complete.jsonl"), crashed = Path.Combine(_dir, "crashed.jsonl");
        Run(input, complete);
        var lines = File.ReadAllLines(complete);
        // The crashed run wrote four rows and half of the fifth.
        File.WriteAllText(crashed, string.Join("\n", lines.Take(4)) + "\n" + lines[4][..(lines[4].Length / 2)]);
        var summary = Run(input, crashed);
        Assert.Equal(4, summary.Skipped);
        Assert.Equal(lines, File.ReadAllLines(crashed));
        Assert.Equal(0, Run(input, crashed).Written); // a third run finds everything done
    }

    [Fact]
    public void Shards_cover_every_row_exactly_once_with_the_same_results()
    {
        string input = Input(12);
        string whole = Path.Combine(_dir, "whole.jsonl");
        Run(input, whole);
        var byId = Rows(whole).ToDictionary(r => r["id"]!.ToJsonString(), r => r["completion"]!.GetValue<string>());
        var seen = new List<string>();
        for (int shard = 0; shard < 3; shard++)
        {
            string part = Path.Combine(_dir, $"shard{shard}.jsonl");
            Run(input, part, shard, 3);
            foreach (var row in Rows(part))
            {
                string id = row["id"]!.ToJsonString();
                seen.Add(id);
                Assert.Equal(byId[id], row["completion"]!.GetValue<string>());
            }
        }
        Assert.Equal(byId.Keys.Order(), seen.Order());
    }

    [Fact]
    public void A_malformed_row_stops_the_job_before_any_work_with_its_line_number()
    {
        string input = Input(4);
        File.AppendAllText(input, "{\"id\": 99, \"prompt\": 5}\n");
        string output = Path.Combine(_dir, "out.jsonl");
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(input, output));
        Assert.Contains("line 5", error.Message);
        Assert.Equal("", File.Exists(output) ? File.ReadAllText(output) : "");
    }

    [Fact]
    public void Malformed_rows_can_be_skipped_and_are_counted()
    {
        string input = Input(4);
        File.AppendAllText(input, "not json\n{\"id\": 7, \"prompt\": \"x\", \"temperature\": -1}\n{\"id\": 8, " +
                                  "\"prompt\": \"x\", \"prompt\": \"y\"}\n{\"id\": 10, \"prompt\": \"\\ud800\"}\n");
        File.AppendAllText(input, "{\"id\": 9, \"prompt\": \"");
        // not UTF-8
        using (var stream = new FileStream(input, FileMode.Append))
            stream.Write([0xFF, (byte)'"', (byte)'}', (byte)'\n']);
        string output = Path.Combine(_dir, "out.jsonl");
        var log = new StringWriter();
        var summary = Run(input, output, skipErrors: true, log: log);
        Assert.Equal(5, summary.Errors);
        Assert.Contains("line 7: not valid JSON (the property \"prompt\" is given twice", log.ToString());
        Assert.Contains("line 8: not valid JSON (a string is not text", log.ToString()); // half a surrogate pair
        Assert.Contains("line 9 is not valid UTF-8", log.ToString());
        Assert.Equal(4, Rows(output).Count);
    }

    [Fact]
    public void A_line_too_long_for_any_prompt_is_reported_by_number_without_being_read_whole()
    {
        string input = Path.Combine(_dir, "long.jsonl"), output = Path.Combine(_dir, "long-out.jsonl");
        File.WriteAllText(input, "{\"id\": 1, \"prompt\": \"hello\", \"max_new_tokens\": 2}\n{\"id\": 2, \"prompt\": " +
                                 "\"" +
                                 new string('a', BatchJob.MaxLineChars + 10)
                                     + "\"}\n{\"id\": 3, \"prompt\": \"fox\", \"max_new_tokens\": 2}\n");
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(input, output));
        Assert.Contains("line 2 is longer than", error.Message);
        var summary = Run(input, output, skipErrors: true);
        Assert.Equal(1, summary.Errors);
        Assert.Equal(["1", "3"], Rows(output).Select(r => r["id"]!.ToJsonString()));
    }

    [Fact]
    public void A_row_sets_every_sampling_option_the_runtime_has()
    {
        const string text = """{"id": "a", "prompt": "p", "max_new_tokens": 9, "min_new_tokens": 3""" +
                            """, "temperature": 0.5, "top_k": 7, "top_p": 0.9, "repetition_penalty": 1.2""" +
                            """, "presence_penalty": 0.25, "frequency_penalty": 0.5, "seed": 11, "stop": ["x", "y"]}""";
        var row = BatchRow.Parse(1, text, new SamplingOptions());
        var expected = new SamplingOptions
        {
            MaxNewTokens = 9, MinNewTokens = 3, Temperature = 0.5, TopK = 7, TopP = 0.9, RepetitionPenalty = 1.2,
            PresencePenalty = 0.25, FrequencyPenalty = 0.5, Seed = 11, StopStrings = row.Request.Options.StopStrings,
        };
        Assert.Equal(expected, row.Request.Options);
        Assert.Equal(["x", "y"], row.Request.Options.StopStrings);
        Assert.Empty(row.OtherKeys);
        const string shorter = """{"id": 1, "prompt": "p", "min_new_tokens": 5, "max_new_tokens": 2}""";
        var error = Assert.Throws<Gpt2OnnxException>(() => BatchRow.Parse(4, shorter, new SamplingOptions()));
        Assert.Contains("line 4", error.Message);
        Assert.Contains("min new tokens", error.Message);
    }

    [Theory]
    [InlineData("3.0", "1e1", "18446744073709551615")]
    [InlineData("3", "10.000", "1.8446744073709551615e19")]
    public void Whole_numbers_written_with_a_fraction_or_an_exponent_are_whole_numbers(string maxNew, string topK,
                                                                                       string seed)
    {
        // pandas writes an integer column that has a gap as floats: 3.0
        string text = $$"""{"id": 1, "prompt": "p", "max_new_tokens": {{maxNew}}, "top_k": {{topK}}""" +
                      $$""", "seed": {{seed}}}""";
        var row = BatchRow.Parse(1, text, new SamplingOptions());
        Assert.Equal((3, 10, ulong.MaxValue),
                     (row.Request.Options.MaxNewTokens, row.Request.Options.TopK, row.Request.Options.Seed));
    }

    [Theory]
    [InlineData("max_new_tokens", "3.5", "whole number")]
    [InlineData("max_new_tokens", "3e10", "whole number")]
    [InlineData("seed", "-1.0", "whole number from 0")]
    [InlineData("seed", "1.8446744073709551616e19", "whole number from 0")]
    [InlineData("top_k", "\"3\"", "whole number")]
    public void A_number_that_is_not_a_whole_number_in_range_is_refused_naming_it(string name, string value,
                                                                                  string expected)
    {
        string text = $$"""{"id": 1, "prompt": "p", "{{name}}": {{value}}}""";
        var error = Assert.Throws<Gpt2OnnxException>(() => BatchRow.Parse(2, text, new SamplingOptions()));
        Assert.Contains($"line 2: '{name}' must be a {expected}", error.Message);
    }

    [Fact]
    public void A_batch_larger_than_the_job_allocates_slots_for_its_rows_only()
    {
        // Before, --max-batch 16777216 for three rows asked for a cache of terabytes and was refused.
        string output = Path.Combine(_dir, "out.jsonl");
        using var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 });
        var summary = BatchJob.Run(model, new BatchJobOptions { Input = Input(3), Output = output, MaxBatch = 1 << 24 },
                                   TextWriter.Null);
        Assert.Equal(3, summary.Written);
        Assert.Contains("at least one sequence", Assert.Throws<Gpt2OnnxException>(
            () => BatchJob.Run(model, new BatchJobOptions { Input = Input(3), Output = output + "2", MaxBatch = 0 },
                               TextWriter.Null)).Message);
    }

    [Fact]
    public void Properties_that_are_not_options_are_named_once_and_left_out()
    {
        string input = Path.Combine(_dir, "extra.jsonl");
        File.WriteAllLines(input,
        [
            """{"id": 1, "prompt": "the", "max_tokens": 3, "source": "web"}""",
            """{"id": 2, "prompt": "fox", "max_tokens": 3}""",
        ]);
        var log = new StringWriter();
        var summary = Run(input, Path.Combine(_dir, "extra-out.jsonl"), log: log);
        Assert.Equal(2, summary.Written);
        var notes = log.ToString().Split('\n').Where(l => l.Contains("not an option")).ToList();
        Assert.Equal(2, notes.Count);
        Assert.Contains("line 1 has 'max_tokens'", notes[0]);
        Assert.Contains("max_new_tokens", notes[0]); // the option it probably meant is listed
        Assert.Contains("line 1 has 'source'", notes[1]);
    }

    [Fact]
    public void Duplicate_ids_are_refused_before_any_work()
    {
        string input = Input(3);
        File.AppendAllText(input, "{\"id\": 0, \"prompt\": \"again\"}\n");
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(input, Path.Combine(_dir, "out.jsonl")));
        Assert.Contains("appears on lines 1 and 4", error.Message);
    }

    [Fact]
    public void An_output_another_job_is_writing_is_refused_and_left_as_it_is()
    {
        string output = Path.Combine(_dir, "busy.jsonl");
        File.WriteAllText(output, "{\"id\":0,\"completion\":\"x\"}\n{\"id\":\"row-1\",\"compl");
        using (new FileStream(output, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) // the other job
        {
            var error = Assert.Throws<Gpt2OnnxException>(() => Run(Input(3), output));
            Assert.Contains("open in another process", error.Message);
        }
        // its torn line is not ours to cut
        Assert.Equal("{\"id\":0,\"completion\":\"x\"}\n{\"id\":\"row-1\",\"compl", File.ReadAllText(output));
        Assert.Equal(1, Run(Input(3), output).Skipped); // once it has ended, the job resumes
        Assert.Equal(3, Rows(output).Count);
    }

    /// <summary>A log that calls <paramref name="onFirstLine"/> when the job first writes to it.</summary>
    private sealed class FirstLineHook(Action onFirstLine) : StringWriter
    {
        private bool _called;

        public override void WriteLine(string? value)
        {
            if (!_called) onFirstLine();
            _called = true;
        }
    }

    [Fact]
    public void An_input_changed_while_the_job_runs_stops_it_with_the_rows_written_so_far_kept()
    {
        string input = Input(12), output = Path.Combine(_dir, "changed.jsonl");
        var lines = File.ReadAllLines(input);
        File.WriteAllLines(input, lines.Take(6).Append("{not json").Concat(lines.Skip(6)));
        // While the rows are first checked (the malformed line is reported), the file is replaced by one
        // whose last rows are in another order.
        var log = new FirstLineHook(() =>
        {
            string replacement = input + ".new";
            File.WriteAllLines(replacement, lines.Take(10).Append(lines[11]).Append(lines[10]));
            File.Move(replacement, input, overwrite: true);
        });
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(input, output, skipErrors: true, log: log));
        Assert.Contains("changed while the job ran", error.Message);
        var written = Rows(output).Select(r => r["id"]!.ToJsonString()).ToList();
        Assert.Equal(written.Distinct(), written);
        Assert.DoesNotContain("\"row-11\"", written);
        var rerun = Run(input, output); // a rerun finishes the job: every row once
        Assert.Equal(12, rerun.Skipped + rerun.Written);
        Assert.Equal(12, Rows(output).Select(r => r["id"]!.ToJsonString()).Distinct().Count());
        Assert.Equal(12, Rows(output).Count);
    }

    /// <summary>A log that, on each progress line, tries to open the output as a second job would.</summary>
    private sealed class SecondOpener(string path) : StringWriter
    {
        public int Tries, Refusals;

        public override void WriteLine(string? value)
        {
            Tries++;
            try
            {
                using var second = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            }
            catch (IOException)
            {
                Refusals++;
            }
        }
    }

    [Fact]
    public void While_a_job_writes_its_output_no_other_job_can_open_it()
    {
        string output = Path.Combine(_dir, "locked.jsonl");
        var log = new SecondOpener(output);
        Run(Input(5), output, log: log);
        Assert.True(log.Tries > 0);
        Assert.Equal(log.Tries, log.Refusals);
        // and after it, anyone can
        using var after = new FileStream(output, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
    }

    [Fact]
    public void An_unwritable_output_is_refused_before_any_work()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(Input(3),
                                                               Path.Combine(_dir, "missing-folder", "out.jsonl")));
        Assert.Contains("does not exist", error.Message);
    }

    [Theory]
    [InlineData("folder", "is a folder: --output names the JSONL file to write")]
    [InlineData("pipe", "is a pipe or a socket, not a file")]
    public void An_output_that_is_not_a_file_is_refused_before_any_work(string kind, string expected)
    {
        string output = Path.Combine(_dir, kind);
        if (kind == "folder") Directory.CreateDirectory(output);
        else System.Diagnostics.Process.Start("mkfifo", [output])!.WaitForExit();
        Assert.Contains(expected, Assert.Throws<Gpt2OnnxException>(() => Run(Input(3), output)).Message);
    }

    [Fact]
    public async Task An_input_that_can_be_read_once_only_is_copied_and_runs_as_the_file_would()
    {
        // The rows are read twice (checked before any work, then run): a pipe's second read found nothing, and
        // the job stopped with "changed while the job ran".
        string rows = Input(5), fifo = Path.Combine(_dir, "rows.fifo");
        Run(rows, Path.Combine(_dir, "from-file.jsonl"));
        System.Diagnostics.Process.Start("mkfifo", [fifo])!.WaitForExit();
        var writer = Task.Run(() => File.WriteAllBytes(fifo, File.ReadAllBytes(rows)));
        var summary = Run(fifo, Path.Combine(_dir, "from-pipe.jsonl"));
        await writer;
        Assert.Equal(5, summary.Written);
        Assert.Equal(File.ReadAllText(Path.Combine(_dir, "from-file.jsonl")),
                     File.ReadAllText(Path.Combine(_dir, "from-pipe.jsonl")));
        // the copy is gone
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"gpt2-run-batch-input-{Environment.ProcessId}-*"));
    }

    [Fact]
    public void An_output_on_a_device_that_reads_without_end_is_not_read_to_resume()
    {
        // /dev/null reads as empty but /dev/full and /dev/zero never end; resuming read them for ever. A device is a
        // new output.
        var summary = Run(Input(3), "/dev/null");
        Assert.Equal(3, summary.Written);
        Assert.Contains("No space left on device",
                        Assert.Throws<IOException>(() => Run(Input(3), "/dev/full")).Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rows_asking_for_no_new_token_come_back_empty_even_when_their_prompt_fills_the_cache(bool continuous)
    {
        string input = Path.Combine(_dir, "zero.jsonl");
        File.WriteAllLines(input, ["{\"id\": 1, \"prompt\": \"the lazy dog jumps\", \"max_new_tokens\": 0}",
                                   "{\"id\": 2, \"prompt\": \"fox\", \"max_new_tokens\": 0}"]);
        string output = Path.Combine(_dir, "out.jsonl");
        var summary = Run(input, output, continuous: continuous);
        Assert.Equal(0, summary.Errors);
        Assert.All(Rows(output), row => Assert.Equal(("", 0),
                                                     (row["completion"]!.GetValue<string>(),
                                                      row["tokens"]!.GetValue<int>())));
    }

    [Fact]
    public void A_negative_max_length_is_refused_before_any_work()
    {
        string output = Path.Combine(_dir, "out.jsonl");
        using var model = LanguageModel.Load(_fused, new SessionSettings { IntraOpThreads = 1 });
        var error = Assert.Throws<Gpt2OnnxException>(() => BatchJob.Run(model,
                                                                        new BatchJobOptions { Input = Input(3),
            Output = output, MaxLength = -5 }, TextWriter.Null));
        Assert.Contains("--max-length must be 0 (what the longest row needs) or more, not -5", error.Message);
        Assert.False(File.Exists(output));
    }

    /// <summary>Three rows; the second asks for <paramref name="middle"/> new tokens (the context is 64).</summary>
    private string ThreeRows(int middle)
    {
        string path = Path.Combine(_dir, "three.jsonl");
        File.WriteAllLines(path, ["{\"id\": 1, \"prompt\": \"the\", \"max_new_tokens\": 2}",
                                  $"{{\"id\": 2, \"prompt\": \"fox\", \"max_new_tokens\": {middle}}}",
                                  "{\"id\": 3, \"prompt\": \"dog\", \"max_new_tokens\": 2}"]);
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_row_asking_for_more_new_tokens_than_the_context_is_an_error_row_and_the_others_run(bool continuous)
    {
        // It reserved storage for the whole count up front: the job aborted (exit 134), and every rerun with it.
        string output = Path.Combine(_dir, "huge.jsonl");
        var summary = Run(ThreeRows(int.MaxValue), output, continuous: continuous);
        Assert.Equal((3, 1), (summary.Written, summary.Errors));
        var rows = Rows(output);
        Assert.Contains("more than the model's context of 64 tokens", rows[1]["error"]!.GetValue<string>());
        Assert.Equal(2, rows[2]["tokens"]!.GetValue<int>());
    }

    [Fact]
    public void Error_rows_count_as_done_on_a_rerun()
    {
        string output = Path.Combine(_dir, "errors.jsonl");
        Run(ThreeRows(int.MaxValue), output);
        var rerun = Run(ThreeRows(5), output);
        Assert.Equal((3, 0), (rerun.Skipped, rerun.Written));
    }

    [Fact]
    public void Retrying_errors_runs_those_rows_again_and_takes_their_error_lines_out()
    {
        string output = Path.Combine(_dir, "retry.jsonl");
        Run(ThreeRows(int.MaxValue), output);
        var retry = Run(ThreeRows(5), output, retryErrors: true);
        Assert.Equal((2, 1, 0), (retry.Skipped, retry.Written, retry.Errors));
        var rows = Rows(output);
        Assert.Equal(["1", "3", "2"], rows.Select(r => r["id"]!.ToJsonString())); // each id once; the retried row last
        Assert.All(rows, row => Assert.Null(row["error"]));
        Assert.Equal(5, rows[2]["tokens"]!.GetValue<int>());
        Assert.Empty(Directory.GetFiles(_dir, "retry.jsonl.tmp-*"));
    }

    [Theory]
    [InlineData("notes\nthe last line, unfinished")]
    [InlineData("{\"id\": 1, \"text\": \"a row of some other job\"}\n")]
    [InlineData("\n")]
    public void An_output_that_is_not_a_results_file_is_refused_and_left_as_it_is(string content)
    {
        // Its last line was cut as a torn row and results were appended to it.
        string output = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(output, content);
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(ThreeRows(2), output));
        Assert.Contains("is not a batch job's results: choose another --output", error.Message);
        Assert.Equal(content, File.ReadAllText(output));
    }

    [Fact]
    public void The_input_as_its_own_output_is_refused_before_any_work()
    {
        // It was refused as "being used by another process".
        string input = ThreeRows(2), before = File.ReadAllText(input);
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(input, input));
        Assert.Contains("--output " + input + " is the --input " + input + " itself", error.Message);
        Assert.Equal(before, File.ReadAllText(input));
    }

    [Fact]
    public void A_device_that_never_ends_a_line_is_refused_at_once()
    {
        // /dev/zero was read as one endless line.
        var error = Assert.Throws<Gpt2OnnxException>(() => Run("/dev/zero", Path.Combine(_dir, "zero-out.jsonl")));
        Assert.Contains("holds a NUL byte", error.Message);
    }

    [Fact]
    public async Task A_stream_of_binary_data_stops_its_copy_at_the_first_NUL_byte()
    {
        // Binary input from a pipe never ends a line: without the NUL check the copy would grow without bound.
        string fifo = Path.Combine(_dir, "zeros.fifo");
        System.Diagnostics.Process.Start("mkfifo", [fifo])!.WaitForExit();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            var zeros = new byte[1 << 16];
            try
            {
                while (!stop.IsCancellationRequested) stream.Write(zeros); // endless, until the reader leaves
            }
            catch (IOException)
            {
                // the job closed its end
            }
        });
        var error = Assert.Throws<Gpt2OnnxException>(() => Run(fifo, Path.Combine(_dir, "fifo-out.jsonl")));
        stop.Cancel();
        await writer;
        Assert.Contains("holds a NUL byte (byte 1)", error.Message);
    }

    [Fact]
    public async Task The_copy_of_a_stream_has_no_name_while_the_job_reads_it()
    {
        // Interrupted, the job left its copy behind; a copy without a name cannot be left behind.
        string rows = Input(3), fifo = Path.Combine(_dir, "slow.fifo");
        System.Diagnostics.Process.Start("mkfifo", [fifo])!.WaitForExit();
        string[] named = ["unchecked"];
        var writer = Task.Run(async () =>
        {
            using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            var bytes = File.ReadAllBytes(rows);
            stream.Write(bytes, 0, bytes.Length / 2);
            stream.Flush();
            await Task.Delay(300); // the job is copying now
            named = Directory.GetFiles(Path.GetTempPath(), $"gpt2-run-batch-input-{Environment.ProcessId}-*");
            stream.Write(bytes, bytes.Length / 2, bytes.Length - bytes.Length / 2);
        });
        Assert.Equal(3, Run(fifo, Path.Combine(_dir, "slow-out.jsonl")).Written);
        await writer;
        Assert.Empty(named);
    }
}
