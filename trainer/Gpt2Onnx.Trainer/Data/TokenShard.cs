using System.IO.MemoryMappedFiles;
using Gpt2Onnx.Runtime;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>
/// A memory-mapped shard of little-endian token ids (uint16 or uint32): train.bin or val.bin, readable
/// with numpy.memmap too. Ids are checked against the vocabulary as windows are read.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _data;
    private readonly int _bytesPerToken;
    private readonly int _vocabSize;

    public string Path { get; }
    public long Length { get; }

    public TokenShard(string path, int bytesPerToken, int vocabSize)
    {
        Path = path;
        _bytesPerToken = bytesPerToken;
        _vocabSize = vocabSize;
        var info = new FileInfo(path);
        if (!info.Exists) throw new Gpt2OnnxException($"{path} is missing: prepare the data again");
        if (info.Length % bytesPerToken != 0)
            throw new Gpt2OnnxException($"{path} has {info.Length} bytes, not a whole number of {bytesPerToken}-byte ids: the shard is truncated; prepare the data again");
        Length = info.Length / bytesPerToken;
        if (Length == 0) return;
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, info.Length, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _data = pointer + _view.PointerOffset;
    }

    /// <summary>Copies ids start..start+destination.Length-1 into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<long> destination)
    {
        if (start < 0 || start + destination.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"window {start}+{destination.Length} outside a shard of {Length} ids");
        for (int i = 0; i < destination.Length; i++)
        {
            long offset = (start + i) * _bytesPerToken;
            long id = _bytesPerToken == 2 ? *(ushort*)(_data + offset) : *(uint*)(_data + offset);
            if (id >= _vocabSize)
                throw new Gpt2OnnxException($"{Path}: id {id} at position {start + i} is outside the model's vocabulary ({_vocabSize}): the data was prepared with another tokenizer");
            destination[i] = id;
        }
    }

    public void Dispose()
    {
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
