using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Runtime.Tokenizers.Contract;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// An exported GPT-2 folder, ready to generate: the ONNX session, the tokenizer, and the facts a decoder
/// needs (layers, heads, context, end-of-text), read from genai_config.json (or, in a folder without one, a
/// Hugging Face config.json) and checked against the graph.
/// Which decoder drives it follows from the model's metadata: a shared past/present buffer (fused) or not.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    public ModelSession Session { get; }
    public ITokenizer Tokenizer { get; }
    public string Directory { get; }
    public int Layers { get; }
    public int Heads { get; }
    public int HeadSize { get; }
    public int ContextLength { get; }
    /// <summary>
    /// The window the weights were trained on, when the export recorded it (metadata gpt2onnx.trained_context)
    /// and it is shorter than <see cref="ContextLength"/>: positions past it were never trained.
    /// </summary>
    public int? TrainedContext { get; }
    public int VocabSize { get; }
    public int EndOfTextId { get; }
    /// <summary>True for graphs whose past and present share one buffer (the fused variant).</summary>
    public bool SharesCacheBuffer { get; }
    /// <summary>The element type of the key/value cache (float, or float16 for fp16 exports), read from the graph's
    /// first past input.</summary>
    public TensorElementType CacheType { get; }
    /// <summary>"portable" or "fused", and "fp32", "fp16" or "int4", as the export declared them.</summary>
    public string Variant { get; }
    public string Precision { get; }
    /// <summary>
    /// How the model says to sample, from genai_config.json's search section (do_sample false: greedy;
    /// temperature, top_k, top_p, repetition_penalty); plain sampling at temperature 1 for a folder without one.
    /// Command lines start from it and change what their options give.
    /// </summary>
    public SamplingOptions DefaultSampling { get; } = new();

    private readonly string _configFile;

    private LanguageModel(string directory, ModelSession session, Microsoft.ML.Tokenizers.Tokenizer tokenizer,
                          JsonObject decoder, JsonObject model, JsonObject? search, string configFile)
    {
        Directory = directory;
        Session = session;
        _configFile = configFile;
        int Int(JsonObject o, string key) => o[key] is JsonValue value && value.TryGetValue<int>(out int number)
            ? number
            : throw new Gpt2OnnxException($"{directory}/{configFile} {NotAnInt(o[key], key)}: export the model again");
        Layers = Int(decoder, "num_hidden_layers");
        Heads = Int(decoder, "num_attention_heads");
        HeadSize = Int(decoder, "head_size");
        ContextLength = Int(model, "context_length");
        VocabSize = Int(model, "vocab_size");
        EndOfTextId = Int(model, "eos_token_id");
        // The library's contract has no vocabulary size or end-of-text id: the model's config gives them.
        Tokenizer = tokenizer as ITokenizer ?? new LibraryTokenizer(tokenizer, VocabSize, EndOfTextId);
        if (search != null) DefaultSampling = ReadSearch(search, $"{directory}/{configFile}");
        // Graphs from elsewhere (a torch.onnx.export, say) carry no metadata of ours: the portable contract.
        Variant = session.Metadata.GetValueOrDefault("gpt2onnx.variant", "portable");
        Precision = session.Metadata.GetValueOrDefault("gpt2onnx.precision", "fp32");
        SharesCacheBuffer = session.Metadata.GetValueOrDefault("gpt2onnx.past_present_share_buffer") == "true";
        if (int.TryParse(session.Metadata.GetValueOrDefault("gpt2onnx.trained_context"),
                         System.Globalization.NumberStyles.None,
                         System.Globalization.CultureInfo.InvariantCulture,
                         out int trained) && trained >= 2 && trained < ContextLength)
            TrainedContext = trained;
        if (session.Input(GraphNames.AttentionMask) == null)
            throw new Gpt2OnnxException($"{session.ModelPath} has no attention_mask input: it is not a graph this " +
                                        "runtime drives (export it again with gpt2-export)");
        var past = session.Input(GraphNames.PastKey(0))
                   ?? throw new Gpt2OnnxException($"{session.ModelPath} has no input {GraphNames.PastKey(0)}: it is " +
                                                  "not a graph with a key/value cache (export it with gpt2-export)");
        CacheType = past.ElementType;
        if (CacheType is not (TensorElementType.Float or TensorElementType.Float16))
            throw new Gpt2OnnxException($"{session.ModelPath}: its cache is {CacheType}; this runtime drives float " +
                                        "or float16 caches (export with --precision fp32, fp16 or int4)");
        var logits = session.Outputs.FirstOrDefault(o => o.Name == GraphNames.Logits);
        if (logits?.ElementType != TensorElementType.Float)
            throw new Gpt2OnnxException($"{session.ModelPath}: its logits output is " +
                                        $"{(logits == null ? "missing" : logits.ElementType.ToString())}, not float: " +
                                        "export the model again with gpt2-export");
        CheckAgainstGraph(session, past, logits);
        CheckDevice(session);
        if (Tokenizer.VocabSize > VocabSize)
            throw new Gpt2OnnxException($"{directory}: the tokenizer has {Tokenizer.VocabSize} ids but the model " +
                                        $"only {VocabSize}: the folder mixes two models");
    }

    /// <summary>
    /// ONNX Runtime's CUDA GroupQueryAttention runs in float16 and bfloat16 only: a fused float32 graph would run
    /// its attention on the CPU, copying the cache across every step. Refused, naming the export that runs there.
    /// </summary>
    private void CheckDevice(ModelSession session)
    {
        if (session.Device.IsCuda && SharesCacheBuffer && CacheType == TensorElementType.Float)
            throw new Gpt2OnnxException($"{Directory} is a fused {Precision} graph, whose attention ONNX Runtime " +
                                        "runs on the CPU only: for CUDA export it with --variant fused --precision " +
                                        "fp16, or use a portable export");
    }

    /// <summary>Largest context a model may declare: the cache is sized from it, so a hostile config must not pick it
    /// freely.</summary>
    public const int MaxContextLength = 1 << 20;

    /// <summary>
    /// genai_config.json against the graph itself: the layers its cache inputs count, the heads and head
    /// size its cache dimensions fix, the vocabulary its logits declare, and sane bounds on the rest. A
    /// config that contradicts its graph (edited, or from another model) could size buffers wrongly.
    /// </summary>
    private void CheckAgainstGraph(ModelSession session, GraphValue past, GraphValue logits)
    {
        string config = $"{Directory}/{_configFile}";
        int pastKeys = session.Inputs.Count(i => i.Name.StartsWith("past_key_values.", StringComparison.Ordinal)
                                            && i.Name.EndsWith(".key", StringComparison.Ordinal));
        if (Layers != pastKeys)
            throw new Gpt2OnnxException($"{config} says {Layers} layers, but the graph has {pastKeys} past key " +
                                        "inputs: the folder mixes two models (export it again)");
        void Dimension(GraphValue value, int axis, int expected, string what)
        {
            var dims = value.Dimensions;
            if (dims.Length <= axis || (dims[axis] >= 0 && dims[axis] != expected))
                throw new Gpt2OnnxException($"{config} gives {what} as {expected}, but the graph's {value.Name} has " +
                                            $"shape [{string.Join(", ", dims)}]: the folder mixes two models (export " +
                                            "it again)");
        }
        Dimension(past, 1, Heads, "the attention heads");
        Dimension(past, 3, HeadSize, "the head size");
        Dimension(logits, 2, VocabSize, "the vocabulary size");
        if (Heads < 1 || HeadSize < 1 || VocabSize < 1)
            throw new Gpt2OnnxException($"{config} declares no heads, head size or vocabulary: export the model again");
        if (ContextLength < 2 || ContextLength > MaxContextLength)
            throw new Gpt2OnnxException($"{config} says a context of {ContextLength} tokens; a model's context is 2 " +
                                        $"to {MaxContextLength:N0}: export the model again");
        if (EndOfTextId < 0 || EndOfTextId >= VocabSize)
            throw new Gpt2OnnxException($"{config} says end-of-text is id {EndOfTextId}, outside the vocabulary of " +
                                        $"{VocabSize}: export the model again");
    }

    /// <summary>
    /// Loads an ONNX folder written by gpt2-export, or one with the same graph contract and a Hugging Face
    /// config.json instead of genai_config.json (as Optimum's GPT-2 export writes it).
    /// </summary>
    public static LanguageModel Load(string directory, SessionSettings? settings = null) =>
        Load(directory, tokenizer: null, settings);

    /// <summary>
    /// Loads the folder as <see cref="Load(string, SessionSettings?)"/> does, but encodes and decodes with
    /// <paramref name="tokenizer"/>, any Microsoft.ML.Tokenizers tokenizer (its TiktokenTokenizer for GPT-2, say),
    /// instead of the folder's own; null takes the folder's.
    /// </summary>
    public static LanguageModel Load(string directory, Microsoft.ML.Tokenizers.Tokenizer? tokenizer,
                                     SessionSettings? settings = null)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new Gpt2OnnxException($"the model folder {directory} does not exist: export one with 'gpt2-export " +
                                        $"--checkpoint DIR --out {directory}'");
        if (!File.Exists(Path.Combine(directory, "model.onnx")))
            throw new Gpt2OnnxException(File.Exists(Path.Combine(directory, "model.safetensors"))
                                        || File.Exists(Path.Combine(directory, "pytorch_model.bin"))
                ? $"{directory} is a checkpoint, not an ONNX export: export it first with 'gpt2-export --checkpoint " +
                  $"{directory} --out DIR' and pass DIR"
                : $"{directory} lacks model.onnx: is it a folder written by gpt2-export? (export it again)");
        JsonObject model, decoder;
        JsonObject? search = null;
        string configFile;
        if (File.Exists(Path.Combine(directory, "genai_config.json"))
            || !File.Exists(Path.Combine(directory, "config.json")))
        {
            configFile = "genai_config.json";
            var genai = ReadJson(directory, configFile);
            model = genai["model"] as JsonObject
                ?? throw new Gpt2OnnxException($"{directory}/genai_config.json lacks 'model': export the model again");
            decoder = model["decoder"] as JsonObject
                ?? throw new Gpt2OnnxException($"{directory}/genai_config.json lacks 'model.decoder': export the " +
                                               "model again");
            search = genai["search"] as JsonObject;
        }
        else
        {
            configFile = "config.json";
            (model, decoder) = FromHuggingFaceConfig(directory, ReadJson(directory, configFile));
        }
        // The folder's own tokenizer is read before the weights, so a folder without one fails at once.
        tokenizer ??= (Microsoft.ML.Tokenizers.Tokenizer)Tokenizers.Tokenizer.Load(directory);
        var session = new ModelSession(Path.Combine(directory, "model.onnx"), settings);
        try
        {
            return new LanguageModel(directory, session, tokenizer, decoder, model, search, configFile);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>genai_config.json's search section as sampling options; a value out of range is one error naming
    /// it.</summary>
    private static SamplingOptions ReadSearch(JsonObject search, string path)
    {
        SamplingOptions read;
        try
        {
            read = HuggingFaceSampling.Read(search);
        }
        catch (Gpt2OnnxException e)
        {
            throw new Gpt2OnnxException($"{path}: search.{e.Message}: export the model again");
        }
        try
        {
            return read.Validate();
        }
        catch (Gpt2OnnxException e)
        {
            throw new Gpt2OnnxException($"{path}: in search, {e.Message}: export the model again");
        }
    }

    private static JsonObject ReadJson(string directory, string name)
    {
        string path = Path.Combine(directory, name);
        if (!File.Exists(path))
            throw new Gpt2OnnxException($"{directory} lacks {name}: is it a folder written by gpt2-export? (export " +
                                        "it again)");
        var bytes = Gpt2Onnx.Core.IO.BoundedFile.ReadAllBytes(path, 1 << 20)
                    ?? throw new Gpt2OnnxException($"{path} is over 1 MB, far more than any model's config: is it " +
                                                   "the right file? (export the model again)");
        try
        {
            return Gpt2Onnx.Core.IO.JsonText.Parse(bytes) as JsonObject
                   ?? throw new Gpt2OnnxException($"{directory}/{name} is not a JSON object: export the model again");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{directory}/{name} is not valid JSON " +
                                        $"({Gpt2Onnx.Core.IO.JsonText.Describe(e)}): export the model again");
        }
    }

    /// <summary>
    /// Why a config entry is not a whole number this runtime takes: missing, not a whole number, or one past
    /// int's range (10^12 positions is a number, just not one any model here has).
    /// </summary>
    private static string NotAnInt(JsonNode? node, string key) => node switch
    {
        null => $"lacks '{key}'",
        JsonValue value when value.TryGetValue<double>(out double number) && double.IsFinite(number)
                             && number == Math.Floor(number)
            => $"has '{key}' {number:R}, past the largest this runtime takes ({int.MaxValue})",
        _ => $"has no whole number for '{key}'",
    };

    /// <summary>
    /// The facts genai_config.json would give, from a Hugging Face GPT-2 config.json (GPT2Config's keys, or the
    /// generic ones); <see cref="CheckAgainstGraph"/> then holds them against the graph as it does genai_config's.
    /// </summary>
    private static (JsonObject Model, JsonObject Decoder) FromHuggingFaceConfig(string directory, JsonObject config)
    {
        if (config["model_type"] is JsonValue type && type.TryGetValue<string>(out var name) && name != "gpt2")
            throw new Gpt2OnnxException($"{directory}/config.json describes a '{name}' model; this runtime drives " +
                                        "GPT-2 graphs");
        int Int(params string[] keys)
        {
            foreach (var key in keys)
                if (config[key] is JsonValue value)
                    return value.TryGetValue<int>(out int number) ? number
                        : throw new Gpt2OnnxException($"{directory}/config.json {NotAnInt(value, key)}: fix the file");
            throw new Gpt2OnnxException($"{directory}/config.json lacks '{keys[0]}': it is not a GPT-2 config");
        }
        int embd = Int("n_embd", "hidden_size"), heads = Int("n_head", "num_attention_heads");
        if (heads < 1 || embd % heads != 0)
            throw new Gpt2OnnxException($"{directory}/config.json: n_embd ({embd}) is not a multiple of n_head " +
                                        $"({heads}): fix the file");
        var decoder = new JsonObject { ["num_hidden_layers"] = Int("n_layer", "num_hidden_layers"),
                                       ["num_attention_heads"] = heads, ["head_size"] = embd / heads };
        var model = new JsonObject
        {
            ["context_length"] = Int("n_positions", "n_ctx", "max_position_embeddings"),
            ["vocab_size"] = Int("vocab_size"),
            // GPT-2's end-of-text when a config leaves it out
            ["eos_token_id"] = config["eos_token_id"] is null ? 50256 : Int("eos_token_id"),
        };
        return (model, decoder);
    }

    /// <summary>The logits of every position of one sequence (S × V, row-major), in one run without a past.</summary>
    public float[] SequenceLogits(int[] ids)
    {
        using var decoder = CreateDecoder(1, ids.Length);
        return decoder.PrefillAll(ids);
    }

    /// <summary>
    /// The logits of every position of one sequence computed through the cache: the first
    /// <paramref name="prefix"/> tokens in one run, then one token per step (S × V, row-major).
    /// </summary>
    public float[] IncrementalLogits(int[] ids, int prefix)
    {
        if (prefix < 1 || prefix > ids.Length) throw new ArgumentOutOfRangeException(nameof(prefix));
        using var decoder = CreateDecoder(1, ids.Length);
        var result = new float[ids.Length * VocabSize];
        decoder.PrefillAll(ids[..prefix]).CopyTo(result, 0);
        for (int t = prefix; t < ids.Length; t++)
        {
            decoder.Step([ids[t]]);
            decoder.Logits(0).CopyTo(result.AsSpan(t * VocabSize));
        }
        return result;
    }

    /// <summary>A decoder for up to <paramref name="maxBatch"/> sequences of up to <paramref name="maxLength"/> tokens
    /// each.</summary>
    internal Decoder CreateDecoder(int maxBatch, int maxLength) =>
        SharesCacheBuffer ? new FusedDecoder(this, maxBatch, maxLength)
            : new PortableDecoder(this, maxBatch, maxLength);

    public void Dispose() => Session.Dispose();
}
