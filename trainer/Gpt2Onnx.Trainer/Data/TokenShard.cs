using System.Buffers;
using System.Buffers.Binary;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Microsoft.Win32.SafeHandles;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>
/// A shard of little-endian token ids (uint16 or uint32): train.bin or val.bin, readable with numpy.memmap too.
/// Windows are read with positioned reads, not through a memory map: a map read past the end of a file that
/// shrank under it (a shard truncated or prepared again in place while a run reads it) kills the process
/// with an access violation no handler can catch, while a read comes back short. A shard that changes while
/// it is open (shorter, or written since it was opened) is one error naming it; ids are checked against the
/// vocabulary as windows are read.
/// </summary>
public sealed class TokenShard : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly DateTime _lastWrite;
    private readonly long _bytes;
    private readonly int _bytesPerToken;
    private readonly int _vocabSize;

    public string Path { get; }
    public long Length { get; }

    public TokenShard(string path, int bytesPerToken, int vocabSize)
    {
        Path = path;
        _bytesPerToken = bytesPerToken;
        _vocabSize = vocabSize;
        if (!File.Exists(path)) throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)}: prepare the data again");
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        _bytes = RandomAccess.GetLength(_file);
        _lastWrite = File.GetLastWriteTimeUtc(_file);
        if (_bytes % bytesPerToken != 0)
        {
            _file.Dispose();
            throw new Gpt2OnnxException($"{path} has {_bytes} bytes, not a whole number of {bytesPerToken}-byte ids: " +
                                        "the shard is truncated; prepare the data again");
        }
        Length = _bytes / bytesPerToken;
    }

    /// <summary>Copies ids start..start+destination.Length-1 into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<long> destination)
    {
        if (start < 0 || start + destination.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"{start}+{destination.Length} is past {Length} ids");
        int count = destination.Length * _bytesPerToken;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(count);
        try
        {
            int filled = 0;
            for (int read = -1; filled < count && read != 0; filled += read)
                read = RandomAccess.Read(_file, buffer.AsSpan(filled, count - filled), start * _bytesPerToken + filled);
            if (filled < count || File.GetLastWriteTimeUtc(_file) != _lastWrite) throw Changed();
            for (int i = 0; i < destination.Length; i++)
            {
                var bytes = buffer.AsSpan(i * _bytesPerToken, _bytesPerToken);
                long id = _bytesPerToken == 2
                    ? BinaryPrimitives.ReadUInt16LittleEndian(bytes)
                    : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
                if (id >= _vocabSize)
                    throw new Gpt2OnnxException($"{Path}: id {id} at position {start + i} is outside the model's " +
                                                $"vocabulary ({_vocabSize}): the data was prepared with another " +
                                                "tokenizer");
                destination[i] = id;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Gpt2OnnxException Changed() =>
        new($"{Path} changed while it was read (it had {_bytes:N0} bytes and now has " +
            $"{RandomAccess.GetLength(_file):N0}): " +
            "something wrote the shard under this run; let it finish (or prepare the data again), then run again " +
            "(a training run continues from its last checkpoint with --resume)");

    public void Dispose() => _file.Dispose();
}
