using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>
/// A GPT-2 architecture, with Hugging Face GPT2Config's keys and defaults (config.json), so real GPT-2
/// checkpoints load and ours load elsewhere.
/// </summary>
public sealed record Gpt2Config
{
    public int VocabSize { get; init; } = 50257;
    /// <summary>The longest sequence the position table covers (n_positions; n_ctx in old files).</summary>
    public int NPositions { get; init; } = 1024;
    public int NEmbd { get; init; } = 768;
    public int NLayer { get; init; } = 12;
    public int NHead { get; init; } = 12;
    /// <summary>The MLP's hidden width; null means 4 × n_embd, GPT-2's choice.</summary>
    public int? NInner { get; init; }
    public double LayerNormEpsilon { get; init; } = 1e-5;
    /// <summary>"gelu_new" (tanh approximation, GPT-2's own), "gelu_pytorch_tanh" (the same), or "gelu" (exact
    /// erf).</summary>
    public string ActivationFunction { get; init; } = "gelu_new";
    public int BosTokenId { get; init; } = 50256;
    public int EosTokenId { get; init; } = 50256;
    // Dropout rates used while training (HF's defaults); inference ignores them.
    public double EmbdPdrop { get; init; } = 0.1;
    public double AttnPdrop { get; init; } = 0.1;
    public double ResidPdrop { get; init; } = 0.1;
    /// <summary>The standard deviation of the initial weights.</summary>
    public double InitializerRange { get; init; } = 0.02;
    /// <summary>
    /// The block's arithmetic (config.json's "block"): <see cref="Gpt2Block"/>, GPT-2's pre-norm block with ln_f,
    /// or <see cref="Gpt2MlBlock"/>, GPT2_ML's (Grover's) block, described in <see cref="Gpt2MlLayout"/>.
    /// </summary>
    public string Block { get; init; } = Gpt2Block;

    public const string Gpt2Block = "gpt2";
    public const string Gpt2MlBlock = "gpt2_ml";
    public bool IsGpt2Ml => Block == Gpt2MlBlock;

    /// <summary>The most layers a config may declare (GPT-2 XL has 48).</summary>
    public const int MaxLayers = 1024;

    // saturating: a hostile n_embd is refused by the parameter count, not wrapped into a small width
    public int InnerSize => NInner ?? (int)Math.Min(4L * NEmbd, int.MaxValue);
    public int HeadSize => NEmbd / NHead;
    public bool TanhGelu => ActivationFunction is "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast";

    /// <summary>Parameters in the model (the LM head is tied to wte and not counted twice); checked, so a hostile
    /// config overflows into an exception, not a small number.</summary>
    public long ParameterCount => checked(
        (long)VocabSize * NEmbd + (long)NPositions * NEmbd + 2L * NEmbd
        + NLayer * (4L * NEmbd + 3L * NEmbd * NEmbd + 3L * NEmbd + (long)NEmbd * NEmbd + NEmbd
                    + 2L * NEmbd * InnerSize + InnerSize + NEmbd));

    /// <summary>Checks that the numbers describe a model that can exist; the message names the key at fault.</summary>
    public Gpt2Config Validate(string source)
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new Gpt2OnnxException($"{source}: {message}");
        }
        Require(VocabSize > 0, $"vocab_size must be positive, not {VocabSize}");
        Require(NPositions > 0, $"n_positions must be positive, not {NPositions}");
        Require(NEmbd > 0 && NLayer > 0 && NHead > 0, "n_embd, n_layer and n_head must be positive");
        // Every layer is a dozen named tensors to list and match; far more layers than any GPT-2 has (48) is a hostile
        // or broken file.
        Require(NLayer <= MaxLayers, $"n_layer is {NLayer}, more than the {MaxLayers} this tool accepts: is the " +
                                     "config right?");
        Require(NEmbd % NHead == 0, $"n_embd ({NEmbd}) must be a multiple of n_head ({NHead})");
        Require(InnerSize > 0, $"n_inner must be positive, not {InnerSize}");
        Require(LayerNormEpsilon > 0 && LayerNormEpsilon < 1,
                $"layer_norm_epsilon must be in (0, 1), not {LayerNormEpsilon}");
        Require(Block is Gpt2Block or Gpt2MlBlock, $"block '{Block}' is not known (use {Gpt2Block} or {Gpt2MlBlock})");
        Require(TanhGelu || ActivationFunction == "gelu",
            $"activation_function '{ActivationFunction}' is not supported (use gelu_new, gelu_pytorch_tanh or gelu)");
        Require(BosTokenId >= 0 && BosTokenId < VocabSize && EosTokenId >= 0 && EosTokenId < VocabSize,
            $"bos_token_id ({BosTokenId}) and eos_token_id ({EosTokenId}) must be ids below vocab_size ({VocabSize})");
        foreach (var (name, p) in new[] { ("embd_pdrop", EmbdPdrop), ("attn_pdrop", AttnPdrop),
                                          ("resid_pdrop", ResidPdrop) })
            Require(p >= 0 && p < 1, $"{name} must be in [0, 1), not {p}");
        // Sizes that would need more memory than any machine has are a hostile or broken file.
        long parameters;
        try
        {
            parameters = ParameterCount;
        }
        catch (OverflowException)
        {
            parameters = long.MaxValue;
        }
        Require(parameters < 100_000_000_000L,
                $"the model would have {(parameters == long.MaxValue ? "more than 9.2e18" : parameters.ToString())} " +
                "parameters: is the config right?");
        return this;
    }

    /// <summary>Reads a config.json (GPT2Config keys; unknown keys are ignored, as Hugging Face does).</summary>
    public static Gpt2Config Load(string path)
    {
        if (!File.Exists(path))
            throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)}: a checkpoint folder needs config.json " +
                                        "(GPT2Config keys)");
        var bytes = BoundedFile.ReadAllBytes(path, 1 << 20)
                    ?? throw new Gpt2OnnxException($"{path} is over 1 MB, far more than a model configuration: is it " +
                                                   "the right file?");
        JsonObject root;
        try
        {
            root = JsonText.Parse(bytes) as JsonObject
                   ?? throw new Gpt2OnnxException($"{path}: expected a JSON object of GPT2Config keys");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): fix the file");
        }
        return FromJson(root, path);
    }

    public static Gpt2Config FromJson(JsonObject root, string source)
    {
        var defaults = new Gpt2Config();
        int Int(string key, int fallback, string? alias = null)
        {
            var node = root[key] ?? (alias != null ? root[alias] : null);
            if (node == null) return fallback;
            try
            {
                return node.GetValue<int>();
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new Gpt2OnnxException($"{source}: '{key}' must be a whole number from {int.MinValue} to " +
                                            $"{int.MaxValue}, not {JsonText.Excerpt(node.ToJsonString())}");
            }
        }
        double Double(string key, double fallback)
        {
            var node = root[key];
            if (node == null) return fallback;
            try
            {
                return node.GetValue<double>();
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new Gpt2OnnxException($"{source}: '{key}' must be a number, not {node.ToJsonString()}");
            }
        }
        string? Text(string key)
        {
            var node = root[key];
            if (node == null || node.GetValueKind() == JsonValueKind.Null) return null;
            return node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>()
                : throw new Gpt2OnnxException($"{source}: '{key}' must be a string, not {node.ToJsonString()}");
        }
        // Variants of GPT-2's arithmetic that Hugging Face's GPT2Config can switch on; computing the plain
        // arithmetic for them would give wrong logits silently, so they are refused by name.
        foreach (var (key, plain) in new[] { ("scale_attn_weights", true), ("scale_attn_by_inverse_layer_idx", false),
                                             ("add_cross_attention", false) })
        {
            var node = root[key];
            if (node == null || node.GetValueKind() == JsonValueKind.Null) continue;
            if (node.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                throw new Gpt2OnnxException($"{source}: '{key}' must be true or false, not {node.ToJsonString()}");
            if (node.GetValue<bool>() != plain)
                throw new Gpt2OnnxException($"{source}: {key} = {(!plain).ToString().ToLowerInvariant()} changes " +
                                            $"GPT-2's attention, which this project does not implement; only {key} = " +
                                            $"{plain.ToString().ToLowerInvariant()} checkpoints are supported");
        }
        if (root["model_type"] is { } type && type.GetValueKind() == JsonValueKind.String
            && type.GetValue<string>() != "gpt2")
            throw new Gpt2OnnxException($"{source}: model_type is '{type.GetValue<string>()}', not gpt2: this tool " +
                                        "handles GPT-2 checkpoints");
        var innerNode = root["n_inner"];
        return new Gpt2Config
        {
            VocabSize = Int("vocab_size", defaults.VocabSize),
            NPositions = Int("n_positions", defaults.NPositions, alias: "n_ctx"),
            NEmbd = Int("n_embd", defaults.NEmbd),
            NLayer = Int("n_layer", defaults.NLayer),
            NHead = Int("n_head", defaults.NHead),
            NInner = innerNode == null || innerNode.GetValueKind() == JsonValueKind.Null ? null : Int("n_inner", 0),
            LayerNormEpsilon = Double("layer_norm_epsilon", defaults.LayerNormEpsilon),
            ActivationFunction = Text("activation_function") ?? defaults.ActivationFunction,
            BosTokenId = Int("bos_token_id", defaults.BosTokenId),
            EosTokenId = Int("eos_token_id", defaults.EosTokenId),
            EmbdPdrop = Double("embd_pdrop", defaults.EmbdPdrop),
            AttnPdrop = Double("attn_pdrop", defaults.AttnPdrop),
            ResidPdrop = Double("resid_pdrop", defaults.ResidPdrop),
            InitializerRange = Double("initializer_range", defaults.InitializerRange),
            Block = Text("block") ?? defaults.Block,
        }.Validate(source);
    }

    public JsonObject ToJson()
    {
        var json = PlainJson();
        if (IsGpt2Ml) json["block"] = Block; // absent for GPT-2, so our files stay exactly Hugging Face's
        return json;
    }

    private JsonObject PlainJson() => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["vocab_size"] = VocabSize,
        ["n_positions"] = NPositions,
        ["n_ctx"] = NPositions,
        ["n_embd"] = NEmbd,
        ["n_layer"] = NLayer,
        ["n_head"] = NHead,
        ["n_inner"] = NInner,
        ["layer_norm_epsilon"] = LayerNormEpsilon,
        ["activation_function"] = ActivationFunction,
        ["bos_token_id"] = BosTokenId,
        ["eos_token_id"] = EosTokenId,
        ["embd_pdrop"] = EmbdPdrop,
        ["attn_pdrop"] = AttnPdrop,
        ["resid_pdrop"] = ResidPdrop,
        ["initializer_range"] = InitializerRange,
        ["tie_word_embeddings"] = true,
    };

    public void Save(string path) =>
        AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
