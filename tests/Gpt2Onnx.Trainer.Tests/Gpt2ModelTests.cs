using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Training;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Tests;

public sealed class Gpt2ModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Flatten(double[][] rows) => rows.SelectMany(r => r.Select(v => (float)v)).ToArray();

    [Theory]
    [InlineData("gelu_new")]
    [InlineData("gelu")]
    public void Forward_matches_the_independent_reference(string activation)
    {
        var config = TinyCheckpoint.Config(activation: activation);
        using var checkpoint = Gpt2Checkpoint.Open(TinyCheckpoint.Write(_dir, config, seed: 3));
        var reference = new ReferenceGpt2(checkpoint);
        using var model = Gpt2Model.Load(checkpoint);
        int[] ids = [5, 17, 3, 90, 42, 42, 0, 11];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.Forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length])).data<float>().ToArray();
        var expected = Flatten(reference.Forward(ids));
        Assert.Equal(expected.Length, logits.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - logits[i]) < 1e-4, $"logit {i}: {expected[i]} vs {logits[i]}");
    }

    /// <summary>
    /// Checkpoints written by Hugging Face transformers (tests/Gpt2Onnx.Exporter.Tests/HuggingFaceFixtures), loaded
    /// for training: the forward pass gives the logits transformers computed for them.
    /// </summary>
    [Theory]
    [InlineData("gelu-new")]
    [InlineData("gelu-erf-inner-eps")]
    [InlineData("float16-sharded")]
    [InlineData("bfloat16")]
    public void Forward_of_a_transformers_checkpoint_gives_the_logits_transformers_computed(string name)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "HuggingFaceFixtures", name);
        using var expected = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder,
            "expected.json")));
        long[] ids = expected.RootElement.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var want = expected.RootElement.GetProperty("prompt_logits").EnumerateArray()
            .SelectMany(r => r.EnumerateArray().Select(v => v.GetSingle())).ToArray();
        using var checkpoint = Gpt2Checkpoint.Open(folder);
        using var model = Gpt2Model.Load(checkpoint);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.Forward(tensor(ids, [1, ids.Length])).data<float>().ToArray();
        Assert.Equal(want.Length, logits.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - logits[i]) <= 1e-4f * (1 + Math.Abs(want[i])),
                        $"logit {i}: {logits[i]}, transformers {want[i]}");
    }

    [Fact]
    public void Left_padding_with_shifted_positions_gives_the_unpadded_logits()
    {
        var config = TinyCheckpoint.Config();
        using var checkpoint = Gpt2Checkpoint.Open(TinyCheckpoint.Write(_dir, config, seed: 4));
        using var model = Gpt2Model.Load(checkpoint);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var plain = model.Forward(tensor(new long[] { 7, 8, 9 }, [1, 3])).data<float>().ToArray();
        var padded = model.Forward(tensor(new long[] { 0, 0, 7, 8, 9 }, [1, 5]),
                                   tensor(new long[] { 0, 0, 0, 1, 2 }, [1, 5]),
                                   tensor(new[] { true, true, false, false, false }, [1, 5])).data<float>().ToArray();
        var tail = padded.AsSpan(2 * config.VocabSize).ToArray();
        for (int i = 0; i < plain.Length; i++) Assert.True(Math.Abs(plain[i] - tail[i]) < 1e-5);
    }

    [Fact]
    public void Sampling_from_the_model_ends_where_the_token_callback_says_and_at_stop_tokens()
    {
        var config = TinyCheckpoint.Config();
        using var model = Gpt2Model.Create(config, seed: 4);
        var greedy = new SamplingOptions { Greedy = true, MaxNewTokens = 8, StopTokenIds = [] };
        var free = ModelGenerator.Generate(model, [1, 2, 3], greedy, []);
        Assert.Equal(8, free.Count);
        int seen = 0;
        Assert.Equal(free.Take(3), ModelGenerator.Generate(model, [1, 2, 3], greedy, [], _ => ++seen < 3));
        var stopAt = free[4];
        var stopped = ModelGenerator.Generate(model, [1, 2, 3], greedy, [stopAt]);
        Assert.Equal(free.TakeWhile(t => t != stopAt), stopped);
    }

    [Fact]
    public void Sampling_from_the_model_ends_at_the_end_of_its_context_as_the_runtime_does()
    {
        var config = TinyCheckpoint.Config(positions: 16);
        using var model = Gpt2Model.Create(config, seed: 4);
        var greedy = new SamplingOptions { Greedy = true, MaxNewTokens = 30, StopTokenIds = [] };
        // before, a window slid on for 30
        Assert.Equal(4, ModelGenerator.Generate(model, Enumerable.Range(1, 12).ToArray(), greedy, []).Count);
        Assert.Throws<ArgumentException>(() => ModelGenerator.Generate(model, Enumerable.Range(1, 16).ToArray(), greedy,
                                                                       []));
        var ids = Enumerable.Range(1, 40).ToList();
        GenerationRequest.FitPrompt(ids, 16, 6, truncateLeft: true);
        Assert.Equal(Enumerable.Range(31, 10), ids); // the prompt's end, with room for the 6 new tokens
        var tooLong = Enumerable.Range(1, 16).ToList();
        var error = Assert.Throws<Gpt2OnnxException>(() => GenerationRequest.FitPrompt(tooLong, 16, 6, false));
        Assert.Contains("--truncate", error.Message);
    }

    [Fact]
    public void The_modules_carry_GPT2s_checkpoint_names()
    {
        var config = TinyCheckpoint.Config(layers: 2);
        using var model = Gpt2Model.Create(config, seed: 1);
        var expected = CheckpointLayout.ExpectedTensors(config).Select(e => (e.Name, e.Shape))
            .OrderBy(e => e.Name, StringComparer.Ordinal);
        var actual = model.named_parameters().Select(p => (p.name, p.parameter.shape))
            .OrderBy(e => e.name, StringComparer.Ordinal);
        Assert.Equal(expected.Select(e => e.Name + ":" + string.Join("x", e.Shape)),
                     actual.Select(e => e.name + ":" + string.Join("x", e.shape)));
    }

    [Fact]
    public void Initialisation_follows_GPT2()
    {
        var config = TinyCheckpoint.Config(vocab: 2000, embd: 64, layers: 4);
        using var model = Gpt2Model.Create(config, seed: 1);
        using var scope = NewDisposeScope();
        double Std(string name)
        {
            var v = model[name].detach().data<float>().ToArray();
            double mean = v.Average();
            return Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
        }
        Assert.InRange(Std("wte.weight"), 0.019, 0.021);
        Assert.InRange(Std("h.0.mlp.c_proj.weight"), 0.02 / Math.Sqrt(8) * 0.9, 0.02 / Math.Sqrt(8) * 1.1);
        Assert.All(model["h.1.ln_2.weight"].detach().data<float>().ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model["h.1.attn.c_attn.bias"].detach().data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_checkpoint_round_trips_through_safetensors()
    {
        var config = TinyCheckpoint.Config();
        using var model = Gpt2Model.Create(config, seed: 2);
        config.Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        SafeTensorsFile.Write(Path.Combine(_dir, CheckpointLayout.ModelFile), model.ToSafeTensors());
        using var checkpoint = Gpt2Checkpoint.Open(_dir);
        using var loaded = Gpt2Model.Load(checkpoint);
        using var scope = NewDisposeScope();
        foreach (var (name, tensor) in model.Parameters)
            Assert.Equal(tensor.detach().data<float>().ToArray(), loaded[name].detach().data<float>().ToArray());
    }

    [Theory]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    public void Half_precision_checkpoints_with_the_transformer_prefix_load(TensorElementType dtype)
    {
        var config = TinyCheckpoint.Config();
        TinyCheckpoint.Write(_dir, config, seed: 5, prefix: "transformer.", dtype: dtype);
        using var checkpoint = Gpt2Checkpoint.Open(_dir);
        using var model = Gpt2Model.Load(checkpoint);
        Assert.Equal(config.NLayer, model.Parameters.Count(p => p.Name.EndsWith("ln_1.weight")));
    }
}
