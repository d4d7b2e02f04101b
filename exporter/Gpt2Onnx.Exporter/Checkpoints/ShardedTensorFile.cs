using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>
/// A checkpoint that save_pretrained split into shards (GPT-2 XL in fp32 is over its 5 GB default):
/// model.safetensors.index.json or pytorch_model.bin.index.json, whose "weight_map" names the shard of every
/// tensor. The shards must sit beside the index (a name with a path in it is refused), every tensor the map
/// names must be in its shard, and no tensor may be in two.
/// </summary>
public sealed class ShardedTensorFile : ITensorFile
{
    private const int MaxIndexBytes = 16 << 20;
    private readonly List<ITensorFile> _shards;
    private readonly Dictionary<string, ITensorFile> _shardOf;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    private ShardedTensorFile(string path, List<ITensorFile> shards, Dictionary<string, ITensorFile> shardOf,
                              Dictionary<string, SafeTensorInfo> tensors)
    {
        Path = path;
        _shards = shards;
        _shardOf = shardOf;
        Tensors = tensors;
    }

    /// <param name="openShard">Opens one shard file (safetensors or torch.save).</param>
    public static ShardedTensorFile Open(string indexPath, Func<string, ITensorFile> openShard)
    {
        var weightMap = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, ITensorFile>(StringComparer.Ordinal);
        try
        {
            foreach (string shard in weightMap.Values.Distinct())
            {
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                    throw new Gpt2OnnxException($"{indexPath} names the shard '{shard}', which is not a file name " +
                                                "beside the index: shards must sit in the checkpoint folder");
                string path = System.IO.Path.Combine(folder, shard);
                if (!File.Exists(path)) throw new Gpt2OnnxException($"{indexPath} names the shard {shard}, which is " +
                                                                    "missing: copy every shard the index names into " +
                                                                    $"{folder}");
                shards[shard] = openShard(path);
            }
            var shardOf = new Dictionary<string, ITensorFile>();
            var tensors = new Dictionary<string, SafeTensorInfo>();
            foreach (var file in shards.Values)
                foreach (var (name, info) in file.Tensors)
                {
                    if (!tensors.TryAdd(name, info))
                        throw new Gpt2OnnxException($"{indexPath}: '{name}' is in two shards ({shardOf[name].Path} " +
                                                    $"and {file.Path}): the checkpoint is damaged");
                    shardOf[name] = file;
                }
            foreach (var (name, shard) in weightMap)
                if (!shardOf.TryGetValue(name, out var file) || file != shards[shard])
                    throw new Gpt2OnnxException($"{indexPath} puts '{name}' in {shard}, which does not hold it: the " +
                                                "index and the shards do not match; save the checkpoint again");
            return new ShardedTensorFile(indexPath, shards.Values.ToList(), shardOf, tensors);
        }
        catch
        {
            foreach (var file in shards.Values) file.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        var bytes = BoundedFile.ReadAllBytes(indexPath, MaxIndexBytes)
                    ?? throw new Gpt2OnnxException($"{indexPath} is over {MaxIndexBytes >> 20} MB, far more than a " +
                                                   "shard index: is it the right file?");
        try
        {
            if (JsonText.Parse(bytes) is not JsonObject { } root || root["weight_map"] is not JsonObject map)
                throw new Gpt2OnnxException($"{indexPath} has no \"weight_map\" object: it is not a shard index " +
                                            "save_pretrained wrote");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, shard) in map)
                weightMap[name] = shard?.GetValueKind() == JsonValueKind.String ? shard.GetValue<string>()
                    : throw new Gpt2OnnxException($"{indexPath}: the shard of '{name}' is " +
                                                  $"{shard?.ToJsonString() ?? "null"}, not a file name");
            return weightMap;
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{indexPath}: not valid JSON ({JsonText.Describe(e)}): fix the file");
        }
    }

    public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination) =>
        _shardOf[tensor.Name].ReadBytes(tensor, destination);

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }
}
