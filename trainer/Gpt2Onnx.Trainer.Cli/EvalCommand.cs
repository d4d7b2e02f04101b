using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train eval</c>: loss and perplexity of a checkpoint on a shard.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "checkpoint folder", Required = true };
        var data = new Option<string>("--data") { Description = "shard folder from 'gpt2-train prepare'",
                                                  Required = true };
        var split = new Option<string>("--split") { Description = "val or train", DefaultValueFactory = _ => "val" };
        split.AcceptOnlyFromAmong("val", "train");
        var context = new Option<int?>("--context") { Description = "tokens per window (default: the context the " +
                                                                    "checkpoint was trained with, else n_positions, " +
                                                                    "at most 256)" };
        var batchSize = new Option<int>("--batch-size") { Description = "windows per batch",
                                                          DefaultValueFactory = _ => 8 };
        var batches = new Option<int>("--batches") { Description = "batches to score at most",
                                                     DefaultValueFactory = _ => 50 };
        var threads = ThreadsOption.Create("libtorch threads", Environment.ProcessorCount, zeroIsEveryCore: false);
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var command = new Command("eval", "loss and perplexity of a checkpoint on a shard") { checkpoint, data, split,
            context, batchSize, batches, threads, json };
        command.SetAction(parsed =>
        {
            TorchRuntime.Threads = parsed.GetValue(threads);
            var meta = ShardMeta.Load(parsed.GetValue(data)!);
            using var ckpt = Gpt2Checkpoint.Open(parsed.GetValue(checkpoint)!);
            if (ckpt.Config.VocabSize != meta.VocabSize)
                throw new Gpt2OnnxException($"the checkpoint's vocabulary has {ckpt.Config.VocabSize} ids but the " +
                                            $"data's has {meta.VocabSize}: evaluate on data prepared with the " +
                                            "checkpoint's tokenizer");
            using var model = Gpt2Model.Load(ckpt);
            using var shard = new TokenShard(Path.Combine(parsed.GetValue(data)!, parsed.GetValue(split) + ".bin"),
                                             meta.BytesPerToken, meta.VocabSize);
            // By default the windows the model was trained on: positions it never saw would score it on untrained
            // embeddings.
            int ctx = parsed.GetValue(context) ?? TrainingRecord.TrainedContext(parsed.GetValue(checkpoint)!)
                ?? Math.Min(ckpt.Config.NPositions, 256);
            var (loss, tokens) = Evaluator.Evaluate(model, shard, ctx, parsed.GetValue(batchSize),
                                                    parsed.GetValue(batches));
            if (tokens == 0) throw new Gpt2OnnxException($"the {parsed.GetValue(split)} shard holds too few tokens " +
                                                         "to score");
            if (!double.IsFinite(loss))
                throw new Gpt2OnnxException($"the loss is {loss} on the {parsed.GetValue(split)} shard: the model's " +
                                            "logits are not finite numbers (damaged or diverged weights); evaluate " +
                                            "an earlier checkpoint");
            double perplexity = Perplexity.Finite(Math.Exp(loss), loss);
            if (parsed.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { loss, perplexity, tokens }));
            else
                Console.WriteLine($"{parsed.GetValue(split)} loss {loss:F4}, perplexity {perplexity:F2} over " +
                                  $"{tokens:N0} tokens");
            return 0;
        });
        return command;
    }
}
