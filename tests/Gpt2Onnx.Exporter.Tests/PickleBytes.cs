using System.IO.Compression;
using System.Text;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>A minimal pickle writer (protocol 2) and torch.save-style zip, for hand-made damaged and hostile
/// files.</summary>
internal static class PickleBytes
{
    internal static class P
    {
        public static readonly byte[] EmptyDict = [(byte)'}'], EmptyTuple = [(byte)')'], Mark = [(byte)'('],
        Tuple = [(byte)'t'],
                                      Tuple1 = [0x85], Reduce = [(byte)'R'], SetItem = [(byte)'s'],
                                      SetItems = [(byte)'u'],
                                      False = [0x89], PersId = [(byte)'Q'], Stop = [(byte)'.'];
        public static byte[] Global(string module, string name) => Encoding.UTF8.GetBytes($"c{module}\n{name}\n");
        public static byte[] Str(string s) =>
            [(byte)'X', .. BitConverter.GetBytes(Encoding.UTF8.GetByteCount(s)), .. Encoding.UTF8.GetBytes(s)];
        public static byte[] Int(int v) => [(byte)'J', .. BitConverter.GetBytes(v)];
    }

    public static byte[] Pickle(params byte[][] parts) => [0x80, 0x02, .. parts.SelectMany(p => p)];

    /// <summary>Writes a zip holding archive/data.pkl and the given members, as torch.save lays them out.</summary>
    public static void WriteArchive(string path, byte[] pickle, CompressionLevel compression,
                                    params (string Name, byte[] Bytes)[] members)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in members.Prepend(("archive/data.pkl", pickle)))
        {
            using var stream = zip.CreateEntry(name, compression).Open();
            stream.Write(bytes);
        }
    }
}
