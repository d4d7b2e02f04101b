using System.Text.Json.Nodes;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Trainer.Tokenizers;
using static Gpt2Onnx.TestSupport.TfBundleWriter;

namespace Gpt2Onnx.TestSupport;

/// <summary>
/// Small TensorFlow GPT-2 checkpoints as OpenAI and GPT2_ML release them, made from a Hugging Face tiny
/// checkpoint (<see cref="TinyCheckpoint"/>) whose float64 reference is the expectation. The TensorFlow names
/// are spelled out here from gpt-2's src/model.py and GPT2_ML's train/modeling.py, not taken from the reader.
/// Each carries optimizer slots, stored with a wrong checksum so that reading one fails, and a step counter.
/// </summary>
public static class TinyTfCheckpoint
{
    private static readonly string[] Texts =
        ["the quick brown fox jumps over the lazy dog", "hello world, hello model"];

    /// <summary>OpenAI's layout in <paramref name="directory"/>/tf; returns the HF checkpoint of its values.</summary>
    public static string WriteOpenAi(string directory, int seed = 3, int shards = 2)
    {
        var tokenizer = BpeTrainer.Train(Texts, vocabSize: 300);
        var config = TinyCheckpoint.Config(vocab: tokenizer.VocabSize) with
        {
            BosTokenId = tokenizer.VocabSize - 1, EosTokenId = tokenizer.VocabSize - 1,
        };
        string hf = TinyCheckpoint.Write(Path.Combine(directory, "hf-source"), config, seed);
        string tf = Directory.CreateDirectory(Path.Combine(directory, "tf")).FullName;
        using (var source = Gpt2Checkpoint.Open(hf))
        {
            var variables = new List<Variable>
            {
                Floats("model/wte", [config.VocabSize, config.NEmbd], source.ReadFloat32("wte.weight")),
                Floats("model/wpe", [config.NPositions, config.NEmbd], source.ReadFloat32("wpe.weight")),
                Floats("model/ln_f/g", [config.NEmbd], source.ReadFloat32("ln_f.weight")),
                Floats("model/ln_f/b", [config.NEmbd], source.ReadFloat32("ln_f.bias")),
            };
            for (int i = 0; i < config.NLayer; i++)
                foreach (var (ours, theirs) in new[] { ("ln_1", "ln_1"), ("ln_2", "ln_2"),
                                                       ("attn.c_attn", "attn/c_attn"), ("attn.c_proj", "attn/c_proj"),
                                                       ("mlp.c_fc", "mlp/c_fc"), ("mlp.c_proj", "mlp/c_proj") })
                {
                    bool norm = ours.StartsWith("ln_");
                    var w = source.Info($"h.{i}.{ours}.weight").Shape;
                    variables.Add(Floats($"model/h{i}/{theirs}/{(norm ? "g" : "w")}", norm ? w : [1, .. w],
                                         source.ReadFloat32($"h.{i}.{ours}.weight")));
                    variables.Add(Floats($"model/h{i}/{theirs}/b", source.Info($"h.{i}.{ours}.bias").Shape,
                                         source.ReadFloat32($"h.{i}.{ours}.bias")));
                }
            Write(Path.Combine(tf, "model.ckpt"), WithTrainingState(variables, "Adam", "Adam_1"), shards, snappy: true);
        }
        File.WriteAllText(Path.Combine(tf, "checkpoint"), "model_checkpoint_path: \"model.ckpt\"\n" +
                                                          "all_model_checkpoint_paths: \"model.ckpt\"\n");
        File.WriteAllText(Path.Combine(tf, "hparams.json"), new JsonObject
        {
            ["n_vocab"] = config.VocabSize, ["n_ctx"] = config.NPositions, ["n_embd"] = config.NEmbd,
            ["n_head"] = config.NHead, ["n_layer"] = config.NLayer,
        }.ToJsonString());
        tokenizer.Save(tf);
        File.Move(Path.Combine(tf, "vocab.json"), Path.Combine(tf, "encoder.json"));
        File.Move(Path.Combine(tf, "merges.txt"), Path.Combine(tf, "vocab.bpe"));
        tokenizer.Save(hf);
        return hf;
    }

    /// <summary>GPT2_ML's layout in <paramref name="directory"/>/tf; returns the HF checkpoint of its values.</summary>
    public static string WriteGpt2Ml(string directory, int seed = 5)
    {
        string[] texts = ["床前明月光，疑是地上霜。举头望明月，低头思故乡。", .. Texts];
        var tokenizer = WordPieceTrainer.Train(texts, vocabSize: 80);
        var config = TinyCheckpoint.Config(vocab: tokenizer.VocabSize, activation: "gelu") with
        {
            Block = Gpt2Config.Gpt2MlBlock, BosTokenId = 2, EosTokenId = 3, // [CLS] and [SEP]
        };
        string hf = TinyCheckpoint.Write(Path.Combine(directory, "hf-source"), config, seed);
        string tf = Directory.CreateDirectory(Path.Combine(directory, "tf")).FullName;
        using (var source = Gpt2Checkpoint.Open(hf))
            Write(Path.Combine(tf, "model.ckpt-100000"), WithTrainingState(Gpt2MlVariables(source), "adafactor_vr"),
                  shards: 1, snappy: false);
        File.WriteAllText(Path.Combine(tf, "mega.json"), new JsonObject
        {
            ["vocab_size"] = config.VocabSize, ["hidden_size"] = config.NEmbd, ["attention_probs_dropout_prob"] = 0.1,
            ["hidden_dropout_prob"] = 0.1, ["hidden_act"] = "gelu", ["initializer_range"] = 0.014,
            ["intermediate_size"] = config.InnerSize, ["max_position_embeddings"] = config.NPositions,
            ["num_attention_heads"] = config.NHead, ["num_hidden_layers"] = config.NLayer,
        }.ToJsonString());
        File.WriteAllLines(Path.Combine(tf, "vocab.txt"), tokenizer.Tokens); // BERT's vocab.txt: one token a line
        File.WriteAllLines(Path.Combine(hf, "vocab.txt"), tokenizer.Tokens);
        return hf;
    }

    private static List<Variable> Gpt2MlVariables(Gpt2Checkpoint source)
    {
        var c = source.Config;
        long C = c.NEmbd;
        Variable V(string name, string ours) => Floats(name, source.Info(ours).Shape, source.ReadFloat32(ours));
        var variables = new List<Variable>
        {
            V("newslm/embeddings/word_embed", "wte.weight"), V("newslm/embeddings/pos_embed", "wpe.weight"),
            V("newslm/embeddings/LayerNorm_embed_norm/gamma", "ln_emb.weight"),
            V("newslm/embeddings/LayerNorm_embed_norm/beta", "ln_emb.bias"),
        };
        for (int i = 0; i < c.NLayer; i++)
        {
            string tf = $"newslm/layer{i:D2}/", h = $"h.{i}.";
            var qkvWeight = source.ReadFloat32(h + "attn.c_attn.weight"); // [C, 3C]: columns q | k | v
            var qkvBias = source.ReadFloat32(h + "attn.c_attn.bias");
            foreach (var (part, at) in new[] { ("query_layer", 0), ("key_layer", 1), ("value_layer", 2) })
            {
                var kernel = new float[C * C];
                for (long r = 0; r < C; r++)
                    for (long col = 0; col < C; col++) kernel[r * C + col] = qkvWeight[r * 3 * C + at * C + col];
                variables.Add(Floats(tf + part + "/kernel", [C, C], kernel));
                variables.Add(Floats(tf + part + "/bias", [C], qkvBias[(int)(at * C)..(int)((at + 1) * C)]));
            }
            foreach (var (theirs, ours) in new[] { ("context_projection_layer", "attn.c_proj"),
                                                   ("intermediate", "mlp.c_fc"), ("output", "mlp.c_proj") })
            {
                variables.Add(V(tf + theirs + "/kernel", h + ours + ".weight"));
                variables.Add(V(tf + theirs + "/bias", h + ours + ".bias"));
            }
            foreach (var (theirs, ours) in new[] { ("LayerNorm_mlp_ln0", "ln_1"), ("LayerNorm_mlp_ln1", "ln_2") })
            {
                variables.Add(V(tf + theirs + "/gamma", h + ours + ".weight"));
                variables.Add(V(tf + theirs + "/beta", h + ours + ".bias"));
            }
        }
        return variables;
    }

    /// <summary>
    /// The variables plus an optimizer slot per variable and suffix (with a checksum that does not match, so a
    /// reader that reads one fails), the step counter (int64) and Adam's beta1_power, as TensorFlow saves them.
    /// </summary>
    private static IEnumerable<Variable> WithTrainingState(List<Variable> variables, params string[] slots)
    {
        foreach (var v in variables) yield return v;
        foreach (var v in variables)
            foreach (var slot in slots)
                yield return v with { Name = v.Name + "/" + slot, Data = new byte[v.Data.Length], BadChecksum = true };
        yield return new Variable("global_step", 9, [], BitConverter.GetBytes(100_000L));
        yield return Floats("beta1_power", [], [0.9f]);
    }
}
