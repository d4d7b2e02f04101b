using System.Runtime.InteropServices;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Trainer.Torch;
using static Gpt2Onnx.Trainer.Torch.Functional;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>
/// GPT-2 as Hugging Face's GPT2LMHeadModel computes it: token + position embeddings, pre-LayerNorm blocks
/// of causal self-attention and a gelu MLP, a final ln_f, and an LM head tied to wte. Parameters carry
/// GPT-2's own checkpoint names, and Conv1D weights keep its [in, out] layout, so loading a real GPT-2
/// is a name match with no transposes.
/// </summary>
public sealed class Gpt2Model : IDisposable
{
    /// <summary>One transformer block's parameters.</summary>
    private sealed record Block(
        Tensor Ln1Weight, Tensor Ln1Bias, Tensor AttnWeight, Tensor AttnBias, Tensor AttnProjWeight, Tensor AttnProjBias,
        Tensor Ln2Weight, Tensor Ln2Bias, Tensor FcWeight, Tensor FcBias, Tensor MlpProjWeight, Tensor MlpProjBias);

    private readonly Dictionary<string, Tensor> _byName;
    private readonly Tensor _wte, _wpe, _lnFWeight, _lnFBias;
    private readonly Block[] _blocks;

    public Gpt2Config Config { get; }

    /// <summary>Every parameter with its GPT-2 name, in checkpoint order.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> Parameters { get; }

    /// <summary>Dropout is active only while training.</summary>
    public bool Training { get; set; }

    private Gpt2Model(Gpt2Config config, Dictionary<string, Tensor> byName)
    {
        Config = config;
        _byName = byName;
        Parameters = Gpt2Checkpoint.ExpectedTensors(config).Select(e => (e.Name, byName[e.Name])).ToList();
        _wte = byName["wte.weight"];
        _wpe = byName["wpe.weight"];
        _lnFWeight = byName["ln_f.weight"];
        _lnFBias = byName["ln_f.bias"];
        _blocks = Enumerable.Range(0, config.NLayer).Select(i =>
        {
            Tensor P(string name) => byName[$"h.{i}.{name}"];
            return new Block(P("ln_1.weight"), P("ln_1.bias"), P("attn.c_attn.weight"), P("attn.c_attn.bias"),
                             P("attn.c_proj.weight"), P("attn.c_proj.bias"), P("ln_2.weight"), P("ln_2.bias"),
                             P("mlp.c_fc.weight"), P("mlp.c_fc.bias"), P("mlp.c_proj.weight"), P("mlp.c_proj.bias"));
        }).ToArray();
    }

    public Tensor this[string name] => _byName[name];

    /// <summary>
    /// A new model with GPT-2's initialisation: weights N(0, 0.02), the residual projections (c_proj)
    /// N(0, 0.02/√(2·n_layer)) so the residual stream's variance does not grow with depth, biases 0,
    /// LayerNorm gains 1. Uses libtorch's default generator, seeded here.
    /// </summary>
    public static Gpt2Model Create(Gpt2Config config, ulong seed)
    {
        TorchRandom.Seed(seed);
        var byName = new Dictionary<string, Tensor>();
        double residualStd = config.InitializerRange / Math.Sqrt(2.0 * config.NLayer);
        foreach (var (name, shape) in Gpt2Checkpoint.ExpectedTensors(config))
        {
            var tensor = Tensor.Empty(shape);
            if (name.EndsWith(".bias", StringComparison.Ordinal)) tensor.ZeroInPlace();
            else if (name.Contains("ln_", StringComparison.Ordinal)) tensor.FillInPlace(1);
            else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) tensor.NormalInPlace(residualStd);
            else tensor.NormalInPlace(config.InitializerRange);
            tensor.RequiresGrad = true;
            byName[name] = tensor;
        }
        return new Gpt2Model(config, byName);
    }

    /// <summary>Loads every tensor of a checkpoint as trainable float32.</summary>
    public static Gpt2Model Load(Gpt2Checkpoint checkpoint)
    {
        var byName = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, shape) in Gpt2Checkpoint.ExpectedTensors(checkpoint.Config))
            {
                var tensor = Tensor.From<float>(checkpoint.ReadFloat32(name), shape);
                tensor.RequiresGrad = true;
                byName[name] = tensor;
            }
        }
        catch
        {
            foreach (var t in byName.Values) t.Dispose();
            throw;
        }
        return new Gpt2Model(checkpoint.Config, byName);
    }

    /// <summary>The weights as float32 safetensors entries, in checkpoint order.</summary>
    public IEnumerable<SafeTensorsFile.Entry> ToSafeTensors() => Parameters.Select(p => ToEntry(p.Name, p.Tensor));

    /// <summary>A float32 tensor's values as a safetensors entry (detached first, so trainable weights serialise too).</summary>
    internal static SafeTensorsFile.Entry ToEntry(string name, Tensor tensor)
    {
        using var values = tensor.Detach();
        return new SafeTensorsFile.Entry(name, SafeTensorDType.F32, tensor.Shape, MemoryMarshal.AsBytes(values.ToArray<float>().AsSpan()).ToArray());
    }

    /// <summary>
    /// Logits (B, T, V) for token ids (B, T). <paramref name="positionIds"/> (B, T) defaults to 0..T-1;
    /// <paramref name="keyPadding"/> (bool, B × T, true at padding) hides padded positions from attention.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? keyPadding = null)
    {
        long b = inputIds.Size(0), t = inputIds.Size(1);
        if (t > Config.NPositions)
            throw new Gpt2Onnx.Runtime.Gpt2OnnxException($"a sequence of {t} tokens is longer than the model's context ({Config.NPositions})");
        int nh = Config.NHead;
        long c = Config.NEmbd, hs = Config.HeadSize;
        positionIds ??= Tensor.Arange(0, t);

        var x = Embedding(_wte, inputIds) + Embedding(_wpe, positionIds);            // (B, T, C)
        x = Dropout(x, Config.EmbdPdrop, Training);
        foreach (var block in _blocks)
        {
            var h = LayerNorm(x, block.Ln1Weight, block.Ln1Bias, Config.LayerNormEpsilon);
            var qkv = Conv1D(h, block.AttnWeight, block.AttnBias).Split(c, 2);        // 3 × (B, T, C)
            var q = qkv[0].View(b, t, nh, hs).Transpose(1, 2);                        // (B, nh, T, hs)
            var k = qkv[1].View(b, t, nh, hs).Transpose(1, 2);
            var v = qkv[2].View(b, t, nh, hs).Transpose(1, 2);
            var y = CausalAttention(q, k, v, keyPadding, Training ? Config.AttnPdrop : 0); // (B, nh, T, hs)
            y = y.Transpose(1, 2).Reshape(b, t, c);                                   // (B, T, C)
            x = x + Dropout(Conv1D(y, block.AttnProjWeight, block.AttnProjBias), Config.ResidPdrop, Training);

            h = LayerNorm(x, block.Ln2Weight, block.Ln2Bias, Config.LayerNormEpsilon);
            h = Gelu(Conv1D(h, block.FcWeight, block.FcBias), Config.TanhGelu);       // (B, T, 4C)
            x = x + Dropout(Conv1D(h, block.MlpProjWeight, block.MlpProjBias), Config.ResidPdrop, Training);
        }
        x = LayerNorm(x, _lnFWeight, _lnFBias, Config.LayerNormEpsilon);
        return Linear(x, _wte, null);                                                // (B, T, V)
    }

    /// <summary>Mean next-token cross entropy of <paramref name="inputIds"/> (B, T) against <paramref name="targets"/> (B, T).</summary>
    public Tensor Loss(Tensor inputIds, Tensor targets)
    {
        var logits = Forward(inputIds);
        return CrossEntropy(logits.View(-1, Config.VocabSize), targets.View(-1));
    }

    public void Dispose()
    {
        foreach (var t in _byName.Values) t.Dispose();
    }
}
