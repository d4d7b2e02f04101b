using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Trainer.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>
/// GPT-2 as Hugging Face's GPT2LMHeadModel computes it: token + position embeddings, pre-LayerNorm blocks
/// of causal self-attention and a gelu MLP, a final ln_f, and an LM head tied to wte. Modules carry GPT-2's
/// own checkpoint names (wte, wpe, h.{i}.attn.c_attn, ln_f) and Conv1D keeps its [in, out] layout, so
/// loading a real GPT-2 is a name match with no transposes. A GPT2_ML config builds Grover's blocks instead,
/// with ln_emb and no ln_f (<see cref="Gpt2MlLayout"/>).
/// </summary>
public sealed class Gpt2Model : nn.Module<Tensor, Tensor>
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly ModuleList<Gpt2Block> h;
    private readonly LayerNorm? ln_f;   // GPT-2's final norm; null in a GPT2_ML model
    private readonly LayerNorm? ln_emb; // GPT2_ML's embedding norm (Gpt2MlLayout); null in GPT-2
    private Dictionary<string, Parameter> _byName = [];
    private ScalarType _computeType = ScalarType.Float32;

    public Gpt2Config Config { get; }

    /// <summary>Every parameter with its GPT-2 name, in checkpoint order.</summary>
    public IReadOnlyList<(string Name, Parameter Tensor)> Parameters { get; private set; } = [];

    private Gpt2Model(Gpt2Config config) : base(nameof(Gpt2Model))
    {
        TorchRuntime.Load();
        Config = config;
        wte = nn.Embedding(config.VocabSize, config.NEmbd);
        wpe = nn.Embedding(config.NPositions, config.NEmbd);
        h = nn.ModuleList(Enumerable.Range(0, config.NLayer).Select(_ => new Gpt2Block(config)).ToArray());
        if (config.IsGpt2Ml) ln_emb = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        else ln_f = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        RegisterComponents();
        IndexParameters();
        eval(); // dropout only when a training loop asks for it
    }

    /// <summary>Moves the weights to a device (a new set of parameters there) and returns the model.</summary>
    public Gpt2Model MoveTo(Device device)
    {
        if (device.type == DeviceType.CPU) return this;
        this.to(device);
        IndexParameters();
        return this;
    }

    private void IndexParameters()
    {
        _byName = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Parameters = CheckpointLayout.ExpectedTensors(Config).Select(e => (e.Name, _byName[e.Name])).ToList();
    }

    public Parameter this[string name] => _byName[name];

    /// <summary>Where the weights are.</summary>
    public Device Device => wte.weight!.device;

    /// <summary>
    /// The type the matrix products and attention compute in: Float32, or BFloat16 for mixed precision, where
    /// the weights, the residual stream, the layer norms and the loss stay fp32 (what autocast does, written out).
    /// </summary>
    public ScalarType ComputeType
    {
        get => _computeType;
        set
        {
            _computeType = value;
            ScalarType? cast = value == ScalarType.Float32 ? null : value;
            foreach (var conv in modules().OfType<Conv1D>()) conv.ComputeType = cast;
        }
    }

    /// <summary>
    /// A new model with GPT-2's initialisation: weights N(0, 0.02), the residual projections (c_proj)
    /// N(0, 0.02/√(2·n_layer)) so the residual stream's variance does not grow with depth, biases 0,
    /// LayerNorm gains 1. Draws from libtorch's default generator, seeded here.
    /// </summary>
    public static Gpt2Model Create(Gpt2Config config, ulong seed)
    {
        var model = new Gpt2Model(config);
        random.manual_seed((long)seed);
        double residualStd = config.InitializerRange / Math.Sqrt(2.0 * config.NLayer);
        using var noGrad = no_grad();
        foreach (var (name, tensor) in model.Parameters)
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal)) tensor.zero_();
            else if (name.Contains("ln_", StringComparison.Ordinal)) tensor.fill_(1);
            else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) tensor.normal_(0, residualStd);
            else tensor.normal_(0, config.InitializerRange);
        }
        return model;
    }

    /// <summary>Loads every tensor of a checkpoint (any stored precision) as trainable float32.</summary>
    public static Gpt2Model Load(Gpt2Checkpoint checkpoint)
    {
        var model = new Gpt2Model(checkpoint.Config);
        try
        {
            foreach (var (name, tensor) in model.Parameters) model.CopyInto(tensor, checkpoint.ReadFloat32(name));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Overwrites a parameter (or a tensor shaped like one) with float32 values.</summary>
    public void CopyInto(Tensor target, float[] values)
    {
        using var noGrad = no_grad();
        using var source = tensor(values, target.shape);
        target.copy_(source);
    }

    /// <summary>The weights as float32 safetensors entries, in checkpoint order.</summary>
    public IEnumerable<SafeTensorsFile.Entry> ToSafeTensors() => Parameters.Select(p => ToEntry(p.Name, p.Tensor));

    /// <summary>A tensor's values as a float32 safetensors entry (copied to the CPU first).</summary>
    internal static SafeTensorsFile.Entry ToEntry(string name, Tensor value)
    {
        using var scope = NewDisposeScope();
        var values = value.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        return new SafeTensorsFile.Entry(name, TensorElementType.Float, value.shape, bytes);
    }

    /// <summary>Logits (B, T, V) for token ids (B, T).</summary>
    public override Tensor forward(Tensor inputIds) => Forward(inputIds);

    /// <summary>
    /// Logits (B, T, V) for token ids (B, T), in <see cref="ComputeType"/>. <paramref name="positionIds"/> (B, T)
    /// defaults to 0..T-1; <paramref name="keyPadding"/> (bool, B × T, true at padding) hides padded positions.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? keyPadding = null)
    {
        long t = inputIds.shape[1];
        if (t > Config.NPositions)
            throw new Gpt2OnnxException(
                $"a sequence of {t} tokens is longer than the model's context ({Config.NPositions})");
        var x = Embed(inputIds, positionIds);                                          // (B, T, C), fp32
        foreach (var block in h) x = block.forward(x, keyPadding);
        return Head(x);
    }

    /// <summary>The blocks in order, for a caller that runs them itself (activation checkpointing).</summary>
    public IReadOnlyList<Gpt2Block> Blocks => new System.Collections.ObjectModel.ReadOnlyCollection<Gpt2Block>(h);

    /// <summary>
    /// Token + position embeddings (GPT2_ML: layer-normed) with embedding dropout: ids (B, T) → the residual
    /// stream (B, T, C).
    /// </summary>
    public Tensor Embed(Tensor inputIds, Tensor? positionIds = null)
    {
        positionIds ??= arange(inputIds.shape[1], ScalarType.Int64, inputIds.device);
        var x = wte.forward(inputIds) + wpe.forward(positionIds);
        if (ln_emb is not null) x = ln_emb.forward(x);
        return F.dropout(x, Config.EmbdPdrop, training);
    }

    /// <summary>ln_f (GPT-2; GPT2_ML has none) and the tied LM head: the last block's output (B, T, C) → logits.
    /// </summary>
    public Tensor Head(Tensor x)
    {
        if (ln_f is not null) x = ln_f.forward(x);
        if (ComputeType == ScalarType.Float32) return x.matmul(wte.weight!.t());       // (B, T, V)
        return x.to_type(ComputeType).matmul(wte.weight!.to_type(ComputeType).t());
    }

    /// <summary>
    /// Mean next-token cross entropy (in fp32) of <paramref name="inputIds"/> (B, T) against
    /// <paramref name="targets"/> (B, T).
    /// </summary>
    public Tensor Loss(Tensor inputIds, Tensor targets)
    {
        return CrossEntropy(Forward(inputIds), targets);
    }

    /// <summary>Mean cross entropy (in fp32) of logits (B, T, V) against targets (B, T).</summary>
    public Tensor CrossEntropy(Tensor logits, Tensor targets) =>
        F.cross_entropy(logits.view(-1, Config.VocabSize).to_type(ScalarType.Float32), targets.view(-1));
}
