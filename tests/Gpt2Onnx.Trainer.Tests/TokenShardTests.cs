using System.Buffers.Binary;
using Gpt2Onnx.Core;
using Gpt2Onnx.Trainer.Data;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>Token shards read by position: the ids as written; a shard changed under a reader is an error.</summary>
public sealed class TokenShardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A uint16 shard whose id at position i is i % 1000.</summary>
    private string Shard(int ids)
    {
        string path = Path.Combine(_dir, "train.bin");
        var bytes = new byte[2 * ids];
        for (int i = 0; i < ids; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), (ushort)(i % 1000));
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_window_reads_the_ids_written_at_its_positions()
    {
        using var shard = new TokenShard(Shard(3000), 2, 1000);
        var window = new long[5];
        shard.Read(1998, window);
        Assert.Equal([998, 999, 0, 1, 2], window);
    }

    [Fact]
    public void A_shard_cut_short_while_open_is_an_error_naming_it_not_a_crash()
    {
        // Read through a memory map, the cut shard killed the trainer with an AccessViolationException.
        string path = Shard(100_000);
        using var shard = new TokenShard(path, 2, 1000);
        using (var cut = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            cut.SetLength(1000);
        var error = Assert.Throws<Gpt2OnnxException>(() => shard.Read(90_000, new long[65]));
        Assert.Contains($"{path} changed while it was read (it had 200,000 bytes and now has 1,000)",
                        error.Message);
    }

    [Fact]
    public void A_shard_written_over_while_open_is_an_error_even_where_its_bytes_still_exist()
    {
        string path = Shard(1000);
        using var shard = new TokenShard(path, 2, 1000);
        using (var over = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            over.Write(new byte[10]);
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1)); // whatever the clock's resolution
        var error = Assert.Throws<Gpt2OnnxException>(() => shard.Read(0, new long[4]));
        Assert.Contains("changed while it was read", error.Message);
    }

    [Fact]
    public void A_folder_in_a_shard_s_place_is_called_a_folder()
    {
        // It was reported as missing.
        string path = Path.Combine(_dir, "val.bin");
        Directory.CreateDirectory(path);
        var error = Assert.Throws<Gpt2OnnxException>(() => new TokenShard(path, 2, 1000));
        Assert.Contains($"{path} is a folder", error.Message);
    }
}
