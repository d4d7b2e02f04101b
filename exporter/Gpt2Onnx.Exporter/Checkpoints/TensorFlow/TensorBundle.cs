using Google.Protobuf;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow.Proto;
using Microsoft.Win32.SafeHandles;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>
/// A TensorFlow checkpoint (TensorBundle): PREFIX.index, a sorted table whose empty key holds the header
/// (shard count, byte order) and whose other keys are tensor names with their BundleEntryProto, and the
/// data shards PREFIX.data-0000i-of-0000n holding the raw little-endian bytes. Every entry is checked
/// against its shard's length before anything is read, so optimizer slots and counters that are never asked
/// for are never read; a tensor that is read is checked against its stored CRC-32C. Float32, float16 and
/// bfloat16 tensors are offered (<see cref="Tensors"/>); other types are listed in <see cref="Skipped"/>.
/// </summary>
public sealed class TensorBundle : ITensorFile
{
    /// <summary>TensorFlow's DataType numbers for the types read here and the counters skipped.</summary>
    private static readonly Dictionary<int, TensorElementType> FloatTypes = new()
    {
        [1] = TensorElementType.Float, [14] = TensorElementType.BFloat16, [19] = TensorElementType.Float16,
    };
    private const int MaxShards = 10_000;
    private readonly SafeFileHandle[] _shards;
    private readonly string[] _shardPaths;
    private readonly Dictionary<string, (int Shard, uint Crc)> _where = new();
    private readonly Dictionary<string, SafeTensorInfo> _tensors = new();
    private readonly List<string> _skipped = new();

    /// <summary>The index file (PREFIX.index).</summary>
    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();
    /// <summary>Entries that are not floating-point tensors (counters, strings, object graphs): never read.</summary>
    public IReadOnlyList<string> Skipped => _skipped;

    private TensorBundle(string path, SafeFileHandle[] shards, string[] shardPaths)
    {
        Path = path;
        _shards = shards;
        _shardPaths = shardPaths;
    }

    /// <summary>Opens PREFIX.index and its shards; <paramref name="indexPath"/> is the .index file.</summary>
    public static TensorBundle Open(string indexPath)
    {
        if (!File.Exists(indexPath))
            throw new Gpt2OnnxException($"{indexPath} does not exist: a TensorFlow checkpoint is PREFIX.index with " +
                                        "its PREFIX.data-* shards");
        var entries = SsTable.ReadAll(indexPath);
        if (entries.Count == 0 || entries[0].Key != "")
            throw SsTable.Damaged(indexPath, "has no bundle header (the empty key)");
        var header = Parse(indexPath, "", entries[0].Value, BundleHeaderProto.Parser);
        if (header.NumShards <= 0 || header.NumShards > MaxShards)
            throw SsTable.Damaged(indexPath, $"declares {header.NumShards} data shards");
        if (header.Endianness != BundleHeaderProto.Types.Endianness.Little)
            throw new Gpt2OnnxException($"{indexPath} was written on a big-endian machine: convert it on one with " +
                                        "TensorFlow, which byte-swaps it, then read it here");
        string prefix = indexPath[..^".index".Length];
        var paths = Enumerable.Range(0, header.NumShards)
            .Select(i => $"{prefix}.data-{i:D5}-of-{header.NumShards:D5}").ToArray();
        var handles = new SafeFileHandle[paths.Length];
        try
        {
            for (int i = 0; i < paths.Length; i++)
            {
                if (!File.Exists(paths[i]))
                    throw new Gpt2OnnxException($"{paths[i]} is missing: {indexPath} names {paths.Length} data " +
                                                "shard(s); copy all of them beside it");
                handles[i] = File.OpenHandle(paths[i], FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            var bundle = new TensorBundle(indexPath, handles, paths);
            bundle.AddEntries(entries.Skip(1));
            return bundle;
        }
        catch
        {
            foreach (var handle in handles) handle?.Dispose();
            throw;
        }
    }

    private void AddEntries(IEnumerable<(string Key, byte[] Value)> entries)
    {
        foreach (var (name, value) in entries)
        {
            var entry = Parse(Path, name, value, BundleEntryProto.Parser);
            CheckBounds(name, entry);
            if (!FloatTypes.TryGetValue(entry.Dtype, out var dtype))
            {
                _skipped.Add(name);
                continue;
            }
            if (entry.Slices.Count > 0)
                throw new Gpt2OnnxException($"{Path}: '{name}' is saved in slices (a partitioned variable), which " +
                                            "this reader does not join: save the checkpoint unpartitioned");
            var shape = Shape(name, entry, dtype);
            _tensors[name] = new SafeTensorInfo(name, dtype, shape, entry.Offset, entry.Offset + entry.Size);
            _where[name] = (entry.ShardId, entry.Crc32C);
        }
    }

    /// <summary>Offsets and sizes inside the named shard, checked for every entry, read or not.</summary>
    private void CheckBounds(string name, BundleEntryProto entry)
    {
        if (entry.ShardId < 0 || entry.ShardId >= _shards.Length)
            throw SsTable.Damaged(Path, $"puts '{name}' in shard {entry.ShardId} of {_shards.Length}");
        long length = RandomAccess.GetLength(_shards[entry.ShardId]);
        if (entry.Offset < 0 || entry.Size < 0 || entry.Offset > length || entry.Size > length - entry.Offset)
            throw new Gpt2OnnxException($"{Path}: '{name}' lies at bytes {entry.Offset}..{entry.Offset + entry.Size} " +
                                        $"of {_shardPaths[entry.ShardId]}, which holds {length}: the shard is " +
                                        "truncated or does not belong to this index; copy the checkpoint again");
    }

    /// <summary>The entry's shape, which must need exactly its stored bytes (a hostile shape overflows here).</summary>
    private long[] Shape(string name, BundleEntryProto entry, TensorElementType dtype)
    {
        var shape = entry.Shape?.Dim.Select(d => d.Size).ToArray() ?? [];
        long bytes = SafeTensorsFile.ElementSize(dtype);
        foreach (long d in shape)
        {
            if (d < 0 || (d > 0 && bytes > long.MaxValue / d))
                throw new Gpt2OnnxException($"{Path}: '{name}' has the shape [{string.Join(", ", shape)}], more " +
                                            "bytes than any file holds: the index is damaged or hostile");
            bytes *= d;
        }
        if (bytes != entry.Size)
            throw new Gpt2OnnxException($"{Path}: '{name}' ({SafeTensorsFile.DTypeName(dtype)} " +
                                        $"[{string.Join(", ", shape)}]) needs {bytes} " +
                                        $"bytes but is given {entry.Size}: the index is damaged");
        return shape;
    }

    private static T Parse<T>(string path, string key, byte[] value, MessageParser<T> parser) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException)
        {
            throw SsTable.Damaged(path, $"holds an unreadable entry for '{key}'");
        }
    }

    /// <summary>A tensor's bytes, checked against the CRC-32C TensorFlow stored for them.</summary>
    public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination)
    {
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException("destination size differs from the tensor's");
        var (shard, crc) = _where[tensor.Name];
        TensorFileReading.ReadExactly(_shards[shard], destination, tensor.Begin, _shardPaths[shard]);
        if (Crc32C.Compute(destination) != Crc32C.Unmask(crc))
            throw new Gpt2OnnxException($"{_shardPaths[shard]}: the bytes of '{tensor.Name}' do not match their " +
                                        "checksum in the index: the shard is damaged; copy the checkpoint again");
    }

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }
}
