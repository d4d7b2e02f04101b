using System.CommandLine;
using System.Runtime.InteropServices;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train train</c>: train or fine-tune a GPT-2; Ctrl-C or SIGTERM saves a checkpoint, then
/// exits.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainOptions { DataDirectory = "", OutputDirectory = "" };
        var data = new Option<string>("--data") { Description = "shard folder from 'gpt2-train prepare'",
                                                  Required = true };
        var config = new Option<string>("--config") { Description = "preset (tiny, poetry-small, small-6x384, gpt2, " +
                                                                    "gpt2-medium, gpt2-large, gpt2-xl) or a " +
                                                                    "config.json", DefaultValueFactory = _ =>
                                                                        defaults.Config };
        var output = new Option<string>("--out") { Description = "checkpoint folder (Hugging Face layout)",
                                                   Required = true };
        var init = new Option<string?>("--init") { Description = "fine-tune from this HF-layout GPT-2 checkpoint" };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out exactly where its last " +
                                                                  "checkpoint left it" };
        var steps = new Option<int>("--steps") { Description = "optimizer steps in all",
                                                 DefaultValueFactory = _ => defaults.Steps };
        var batchSize = new Option<int>("--batch-size") { Description = "windows per step",
                                                          DefaultValueFactory = _ => defaults.BatchSize };
        var context = new Option<int?>("--context") { Description = "tokens per window (default: n_positions, at " +
                                                                    "most 256)" };
        var gradAccum = new Option<int>("--grad-accum") { Description = "micro-batches per optimizer step",
                                                          DefaultValueFactory = _ => defaults.GradientAccumulation };
        var lr = new Option<double>("--lr") { Description = "peak learning rate",
                                              DefaultValueFactory = _ => defaults.LearningRate };
        var warmup = new Option<int?>("--warmup") { Description = "warm-up steps (default 10% of --steps, at most " +
                                                                  "200)" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay on matrices",
                                                                 DefaultValueFactory = _ => defaults.WeightDecay };
        var evalEvery = new Option<int>("--eval-every") { Description = "steps between validation, a sample and the " +
                                                                        "loss curve (0 = never)", DefaultValueFactory =
                                                                            _ => defaults.EvalEvery };
        var evalBatches = new Option<int>("--eval-batches") { Description = "validation batches per evaluation",
                                                              DefaultValueFactory = _ => defaults.EvalBatches };
        var saveEvery = new Option<int>("--save-every") { Description = "steps between checkpoints (0 = only at the " +
                                                                        "end)", DefaultValueFactory = _ =>
                                                                            defaults.SaveEvery };
        var samplePrompt = new Option<string>("--sample-prompt") { Description = "prompt for the samples written at " +
                                                                                 "each " +
                                                                                 "evaluation", DefaultValueFactory =
                                                                                     _ => "" };
        var sampleTokens = new Option<int>("--sample-tokens") { Description = "tokens per sample (0 = no samples)",
                                                                DefaultValueFactory = _ => defaults.SampleTokens };
        var seed = new Option<ulong>("--seed") { Description = "seed for initialisation, data order and dropout",
                                                 DefaultValueFactory = _ => defaults.Seed };
        var threads = ThreadsOption.Create("libtorch threads", defaults.Threads, zeroIsEveryCore: false);
        var stride = new Option<int?>("--stride") { Description = "use overlapping windows every N tokens, in order, " +
                                                                  "instead of random windows" };
        var freeze = new Option<bool>("--freeze-embeddings") { Description = "train only the transformer blocks" };
        var noise = new Option<double>("--noise") { Description = "replace input tokens at random with this " +
                                                                  "probability", DefaultValueFactory = _ => 0 };
        var dropout = new Option<double?>("--dropout") { Description = "dropout rate (default: the config's)" };
        var minutes = new Option<double?>("--minutes") { Description = "stop and save after this many minutes" };
        var bf16 = new Option<bool>("--bf16") { Description = "mixed precision: matrix products and attention in " +
                                                              "bf16 (fp32 weights, optimizer and loss)" };
        var optimizer = new Option<string>("--optimizer")
        {
            Description = "adamw, or adafactor (factored second moments, no momentum; " +
                          "relative step size unless --lr is given)",
            DefaultValueFactory = _ => defaults.Optimizer,
        };
        optimizer.AcceptOnlyFromAmong("adamw", "adafactor");
        var checkpointing = new Option<int>("--activation-checkpointing")
        {
            Description = "recompute activations in the backward pass, keeping the input of every k-th block " +
                          "(k = 1 if no value)",
            Arity = ArgumentArity.ZeroOrOne,
            DefaultValueFactory = _ => 0,
            CustomParser = result => result.Tokens.Count == 0 ? 1
                : int.TryParse(result.Tokens[0].Value, out int k) ? k : ParseError(result),
        };
        var device = new Option<string>("--device") { Description = "cpu, or cuda[:N] with a CUDA build of libtorch " +
                                                                    "2.10 (GPT2ONNX_LIBTORCH)", DefaultValueFactory =
                                                                        _ => defaults.Device };
        var command = new Command("train",
                                  "train a GPT-2 from scratch, fine-tune one (--init), or resume a run (--resume)")
        {
            data, config, output, init, resume, steps, batchSize, context, gradAccum, lr, warmup, weightDecay,
            evalEvery, evalBatches,
            saveEvery, samplePrompt, sampleTokens, seed, threads, stride, freeze, noise, dropout, minutes, bf16, device,
            optimizer, checkpointing,
        };
        command.SetAction(parsed =>
        {
            var options = new TrainOptions
            {
                DataDirectory = parsed.GetValue(data)!,
                Config = parsed.GetValue(config)!,
                OutputDirectory = parsed.GetValue(output)!,
                InitCheckpoint = parsed.GetValue(init),
                Steps = parsed.GetValue(steps),
                BatchSize = parsed.GetValue(batchSize),
                Context = parsed.GetValue(context),
                GradientAccumulation = parsed.GetValue(gradAccum),
                LearningRate = parsed.GetValue(lr),
                WarmupSteps = parsed.GetValue(warmup),
                WeightDecay = parsed.GetValue(weightDecay),
                EvalEvery = parsed.GetValue(evalEvery),
                EvalBatches = parsed.GetValue(evalBatches),
                SaveEvery = parsed.GetValue(saveEvery),
                SamplePrompt = parsed.GetValue(samplePrompt)!,
                SampleTokens = parsed.GetValue(sampleTokens),
                Seed = parsed.GetValue(seed),
                Threads = parsed.GetValue(threads),
                Stride = parsed.GetValue(stride),
                FreezeEmbeddings = parsed.GetValue(freeze),
                Noise = parsed.GetValue(noise),
                Dropout = parsed.GetValue(dropout),
                Minutes = parsed.GetValue(minutes),
                Bf16 = parsed.GetValue(bf16),
                Device = parsed.GetValue(device)!,
                Optimizer = parsed.GetValue(optimizer)!,
                RelativeStep = parsed.GetValue(optimizer) == "adafactor"
                               && parsed.GetResult(lr) is null or { Implicit: true },
                ActivationCheckpointing = BlocksPerSegment(parsed, checkpointing),
            };
            CliHost.Require(!(options.InitCheckpoint != null && parsed.GetValue(resume)),
                            "--init starts a new run and --resume continues one: give one of them");
            PathOverlap.Refuse(options.OutputDirectory, "--out", options.DataDirectory, "--data");
            if (!parsed.GetValue(resume) && options.InitCheckpoint == null && File.Exists(options.Config))
                RefuseSmallerVocabulary(options.Config, options.DataDirectory);
            if (options.InitCheckpoint is { } start)
                PathOverlap.Refuse(options.OutputDirectory, "--out", start, "--init");
            // A resumed run keeps its own length unless --steps is given (the option's default is a new run's).
            if (parsed.GetValue(resume) && parsed.GetResult(steps) is null or { Implicit: true }
                && CheckpointStore.HasTrainingState(options.OutputDirectory))
                options = options with { Steps = CheckpointStore.ReadState(options.OutputDirectory).Options.Steps };
            // Options given but not used are named, so a changed setting does not pass for an applied one.
            var given = command.Options.Where(o => parsed.GetResult(o) is { Implicit: false }).ToList();
            var unused = parsed.GetValue(resume)
                ? given.Except([data, output, resume, steps, minutes]) : options.InitCheckpoint != null
                    ? given.Intersect([config]) : [];
            if (unused.Any())
                Console.Error.WriteLine(parsed.GetValue(resume)
                    ? "note: --resume continues the run with its own settings (its state.json), so " +
                      $"{string.Join(", ", unused.Select(o => o.Name))} given here are not used; only --steps and " +
                      "--minutes change"
                    : "note: --init takes the model's shape from the checkpoint, so --config is not used");
            using var stop = new CancellationTokenSource();
            // The first Ctrl-C or SIGTERM asks for a checkpoint and a clean exit; the loop saves after the current
            // step.
            using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT,
                context => { context.Cancel = true; stop.Cancel(); });
            using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM,
                context => { context.Cancel = true; stop.Cancel(); });
            var summary = new TrainingLoop(Console.Error).Run(options, parsed.GetValue(resume), stop.Token);
            return summary.Interrupted ? 130 : 0;
        });
        return command;
    }

    /// <summary>--activation-checkpointing's k: 0 when the option is absent, 1 when it is given without a value.
    /// </summary>
    private static int BlocksPerSegment(ParseResult parsed, Option<int> option) => parsed.GetResult(option) switch
    {
        null or { Implicit: true } => 0,
        { Tokens.Count: 0 } => 1,
        _ => parsed.GetValue(option),
    };

    /// <summary>--activation-checkpointing's value when it is not a whole number: a parse error naming it.</summary>
    private static int ParseError(System.CommandLine.Parsing.ArgumentResult result)
    {
        result.AddError("--activation-checkpointing takes a number of blocks per segment, " +
                        $"not '{result.Tokens[0].Value}'");
        return 0;
    }

    /// <summary>
    /// A config file whose vocab_size is below the data's: its model could not embed the data's ids. The run
    /// takes the data's size (as it does a preset's), which silently changed a size the user wrote.
    /// </summary>
    private static void RefuseSmallerVocabulary(string configFile, string dataDirectory)
    {
        int written = Gpt2Config.Load(configFile).VocabSize, data = ShardMeta.Load(dataDirectory).VocabSize;
        if (written < data)
            throw new Gpt2OnnxException($"{configFile} has vocab_size {written}, fewer than the {data} ids of the " +
                                        $"data in {dataDirectory}: set vocab_size to {data} (the data's tokenizer), " +
                                        "or prepare the data with a smaller vocabulary");
    }
}
