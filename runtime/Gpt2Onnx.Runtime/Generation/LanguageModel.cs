using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// An exported GPT-2 folder, ready to generate: the ONNX session, the tokenizer, and the facts a decoder
/// needs (layers, heads, context, end-of-text), read from genai_config.json. Which decoder drives it
/// follows from the graph's declared inputs: attention_mask (portable) or seqlens_k (fused, shared cache).
/// </summary>
public sealed class LanguageModel : IDisposable
{
    public OrtSession Session { get; }
    public ITokenizer Tokenizer { get; }
    public string Directory { get; }
    public int Layers { get; }
    public int Heads { get; }
    public int HeadSize { get; }
    public int ContextLength { get; }
    public int VocabSize { get; }
    public int EndOfTextId { get; }
    /// <summary>True for graphs whose past and present share one buffer (the fused variant).</summary>
    public bool SharesCacheBuffer { get; }
    /// <summary>The element type of the key/value cache (float, or float16 for fp16 exports), read from the graph's first past input.</summary>
    public TensorElementType CacheType { get; }
    /// <summary>"portable" or "fused", and "fp32", "fp16" or "int4", as the export declared them.</summary>
    public string Variant { get; }
    public string Precision { get; }

    private LanguageModel(string directory, OrtSession session, ITokenizer tokenizer, JsonObject decoder, JsonObject model, JsonObject? ours)
    {
        Directory = directory;
        Session = session;
        Tokenizer = tokenizer;
        int Int(JsonObject o, string key) => o[key]?.GetValue<int>() ?? throw new Gpt2OnnxException($"{directory}/genai_config.json lacks '{key}': export the model again");
        Layers = Int(decoder, "num_hidden_layers");
        Heads = Int(decoder, "num_attention_heads");
        HeadSize = Int(decoder, "head_size");
        ContextLength = Int(model, "context_length");
        VocabSize = Int(model, "vocab_size");
        EndOfTextId = Int(model, "eos_token_id");
        Variant = ours?["variant"]?.GetValue<string>() ?? "portable";
        Precision = ours?["precision"]?.GetValue<string>() ?? "fp32";
        SharesCacheBuffer = session.Input("seqlens_k") != null;
        if (!SharesCacheBuffer && session.Input(GraphNames.AttentionMask) == null)
            throw new Gpt2OnnxException($"{session.ModelPath} has neither attention_mask nor seqlens_k among its inputs: it is not a graph this runtime can drive");
        var past = session.Input(GraphNames.PastKey(0))
                   ?? throw new Gpt2OnnxException($"{session.ModelPath} has no input {GraphNames.PastKey(0)}: it is not a graph with a key/value cache (export it with gpt2-export)");
        CacheType = past.ElementType;
        if (CacheType is not (TensorElementType.Float or TensorElementType.Float16))
            throw new Gpt2OnnxException($"{session.ModelPath}: its cache is {CacheType}; this runtime drives float or float16 caches (export with --precision fp32, fp16 or int4)");
        var logits = session.Outputs.FirstOrDefault(o => o.Name == GraphNames.Logits);
        if (logits?.ElementType != TensorElementType.Float)
            throw new Gpt2OnnxException($"{session.ModelPath}: its logits output is {(logits == null ? "missing" : logits.ElementType.ToString())}, not float: export the model again with gpt2-export");
        if (tokenizer.VocabSize > VocabSize)
            throw new Gpt2OnnxException($"{directory}: the tokenizer has {tokenizer.VocabSize} ids but the model only {VocabSize}: the folder mixes two models");
    }

    /// <summary>Loads an ONNX folder written by gpt2-export.</summary>
    public static LanguageModel Load(string directory, SessionSettings? settings = null)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new Gpt2OnnxException($"the model folder {directory} does not exist: export one with 'gpt2-export --checkpoint DIR --out {directory}'");
        foreach (var required in new[] { "model.onnx", "genai_config.json" })
            if (!File.Exists(Path.Combine(directory, required)))
                throw new Gpt2OnnxException($"{directory} lacks {required}: is it a folder written by gpt2-export? (export it again)");
        JsonObject genai;
        try
        {
            genai = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "genai_config.json"))) as JsonObject
                    ?? throw new Gpt2OnnxException($"{directory}/genai_config.json is not a JSON object: export the model again");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{directory}/genai_config.json is not valid JSON ({e.Message}): export the model again");
        }
        var model = genai["model"] as JsonObject ?? throw new Gpt2OnnxException($"{directory}/genai_config.json lacks 'model': export the model again");
        var decoder = model["decoder"] as JsonObject ?? throw new Gpt2OnnxException($"{directory}/genai_config.json lacks 'model.decoder': export the model again");
        var tokenizer = Tokenizers.Tokenizer.Load(directory);
        var session = new OrtSession(Path.Combine(directory, "model.onnx"), settings);
        try
        {
            return new LanguageModel(directory, session, tokenizer, decoder, model, genai["gpt2onnx"] as JsonObject);
        }
        catch
        {
            session.Dispose();
            throw;
        }
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

    /// <summary>A decoder for up to <paramref name="maxBatch"/> sequences of up to <paramref name="maxLength"/> tokens each.</summary>
    internal Decoder CreateDecoder(int maxBatch, int maxLength) =>
        SharesCacheBuffer ? new FusedDecoder(this, maxBatch, maxLength) : new PortableDecoder(this, maxBatch, maxLength);

    public void Dispose() => Session.Dispose();
}
