using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;
using Microsoft.Win32.SafeHandles;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>
/// pytorch_model.bin as torch.save writes a state dict, read as data and never run. Both of torch.save's
/// formats: the zip archive of PyTorch 1.6 and later (ARCHIVE/data.pkl, and each storage's bytes in
/// ARCHIVE/data/KEY), and the legacy stream before it (five pickles: magic number, format version, system
/// info, the object, the storage keys; then each storage as its element count and bytes). The pickle reader
/// accepts only the globals a state dict of tensors uses (OrderedDict, torch._utils' tensor and parameter
/// rebuilders, the typed storage classes); every tensor's view (offset, shape, strides) is checked against
/// its storage before anything is read, and tensors are read with positioned reads, as safetensors are.
/// </summary>
public sealed class TorchCheckpointFile : ITensorFile
{
    // A state dict's pickle is kilobytes (GPT-2 124M's: 19 KB); each of its bytes builds at most one small object.
    private const int MaxPickleBytes = 16 << 20;
    private static readonly BigInteger LegacyMagic =
        BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);
    private const long LegacyFormatVersion = 1001;

    private static readonly Dictionary<string, TensorElementType> StorageTypes = new()
    {
        ["FloatStorage"] = TensorElementType.Float, ["HalfStorage"] = TensorElementType.Float16,
        ["BFloat16Storage"] = TensorElementType.BFloat16,
        ["DoubleStorage"] = TensorElementType.Double, ["LongStorage"] = TensorElementType.Int64,
        ["IntStorage"] = TensorElementType.Int32,
        ["ShortStorage"] = TensorElementType.Int16, ["CharStorage"] = TensorElementType.Int8,
        ["ByteStorage"] = TensorElementType.UInt8,
        ["BoolStorage"] = TensorElementType.Bool,
    };

    /// <summary>A storage: its element type and count, and (once known) where its bytes start in the file.</summary>
    private sealed class Storage(string key, TensorElementType dtype, long elements)
    {
        public string Key { get; } = key;
        public TensorElementType DType { get; } = dtype;
        public long Elements { get; } = elements;
        public long FileOffset { get; set; } = -1;
    }

    /// <summary>A window of a storage (legacy files can share one storage between several), in elements.</summary>
    private sealed record StorageView(Storage Root, long Offset, long Elements);

    /// <summary>A tensor as _rebuild_tensor_v2 describes it: a storage window, an element offset, a shape and
    /// strides.</summary>
    private sealed record TensorView(StorageView Storage, long Offset, long[] Shape, long[] Strides);

    /// <summary>Where a tensor's first element lies in the file, and its strides when they are not row-major.</summary>
    private sealed record Layout(long Start, long[]? Strides);

    private readonly SafeFileHandle _file;
    private readonly Dictionary<string, Layout> _layouts;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    private TorchCheckpointFile(string path, SafeFileHandle file, Dictionary<string, SafeTensorInfo> tensors,
                                Dictionary<string, Layout> layouts)
    {
        Path = path;
        _file = file;
        Tensors = tensors;
        _layouts = layouts;
    }

    public static TorchCheckpointFile Open(string path) => Open(path, saved => saved);

    /// <param name="stateDict">Picks the state dict out of what the file holds (a training checkpoint keeps it under a
    /// key).</param>
    public static TorchCheckpointFile Open(string path, Func<object?, object?> stateDict)
    {
        if (!File.Exists(path)) throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)}");
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = RandomAccess.GetLength(file);
            var start = new byte[Math.Min(length, 16)];
            TensorFileReading.ReadExactly(file, start, 0, path);
            var storages = new Dictionary<string, Storage>(StringComparer.Ordinal);
            object? saved;
            if (StoredZip.LooksLikeZip(start))
                saved = ReadZip(path, file, storages);
            else if (start.Length >= 2 && start[0] == 0x80)
                saved = ReadLegacy(path, file, length, storages);
            else
                throw new Gpt2OnnxException($"{path} is neither a zip archive nor a pickle: it is not a file " +
                                            "torch.save wrote");
            var (tensors, layouts) = Describe(path, stateDict(saved));
            return new TorchCheckpointFile(path, file, tensors, layouts);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static object? ReadZip(string path, SafeFileHandle file, Dictionary<string, Storage> storages)
    {
        var members = StoredZip.ReadMembers(path, file);
        var pickles = members.Keys.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal)
                                         && n.IndexOf('/') == n.Length - "/data.pkl".Length).ToList();
        if (pickles.Count != 1)
            throw new Gpt2OnnxException($"{path} is a zip archive with " +
                                        $"{(pickles.Count == 0 ? "no" : "more than one")} ARCHIVE/data.pkl: it is " +
                                        "not a checkpoint torch.save wrote");
        string prefix = pickles[0][..^"data.pkl".Length];
        if (members.TryGetValue(prefix + "byteorder", out var byteOrder) && byteOrder.Length < 16)
        {
            var order = new byte[byteOrder.Length];
            TensorFileReading.ReadExactly(file, order, byteOrder.DataStart, path);
            if (Encoding.ASCII.GetString(order).Trim() != "little")
                throw new Gpt2OnnxException($"{path} was saved on a big-endian machine: load and save it again on a " +
                                            "little-endian one, or write model.safetensors");
        }
        var data = Member(path, file, members[pickles[0]]);
        var stateDict = Reader(path + ":" + pickles[0], data, 0, storages, legacy: false).Load();
        foreach (var storage in storages.Values)
        {
            string name = prefix + "data/" + storage.Key;
            if (!members.TryGetValue(name, out var member))
                throw new Gpt2OnnxException($"{path}: the storage '{storage.Key}' has no member {name}: the archive " +
                                            "is incomplete; save it again");
            if (storage.Elements > member.Length / SafeTensorsFile.ElementSize(storage.DType))
                throw new Gpt2OnnxException($"{path}: {name} holds {member.Length} bytes, fewer than its " +
                                            $"{storage.Elements} {SafeTensorsFile.DTypeName(storage.DType)} elements " +
                                            "need: the archive is damaged");
            storage.FileOffset = member.DataStart;
        }
        return stateDict;
    }

    private static byte[] Member(string path, SafeFileHandle file, ZipMember member)
    {
        if (member.Length > MaxPickleBytes)
            throw new Gpt2OnnxException($"{path}: {member.Name} is {member.Length} bytes, far more than a state " +
                                        "dict's pickle: the file is damaged or hostile");
        var bytes = new byte[member.Length];
        TensorFileReading.ReadExactly(file, bytes, member.DataStart, path);
        return bytes;
    }

    private static object? ReadLegacy(string path, SafeFileHandle file, long length,
                                      Dictionary<string, Storage> storages)
    {
        // The pickles come first and are small; the storages after them are most of the file. Read a
        // megabyte, and more (up to a bound) only when the pickles run past it.
        for (long window = 1 << 20; ; window *= 4)
        {
            var head = new byte[Math.Min(length, Math.Min(window, MaxPickleBytes))];
            TensorFileReading.ReadExactly(file, head, 0, path);
            storages.Clear();
            try
            {
                return ReadLegacy(path, file, length, head, storages);
            }
            catch (PickleTruncatedException) when (head.Length < length && head.Length < MaxPickleBytes)
            {
            }
        }
    }

    private static object? ReadLegacy(string path, SafeFileHandle file, long length, byte[] head,
                                      Dictionary<string, Storage> storages)
    {
        Exception NotTorch(string what) =>
            new Gpt2OnnxException($"{path}: {what}: it is not a checkpoint torch.save wrote");
        var reader = Reader(path, head, 0, storages, legacy: true);
        if (reader.Load() is not BigInteger magic || magic != LegacyMagic)
            throw NotTorch("the first pickle is not torch's magic number");
        reader = Reader(path, head, reader.Position, storages, legacy: true);
        if (reader.Load() is not long version || version != LegacyFormatVersion)
            throw NotTorch($"the format version is not {LegacyFormatVersion}");
        reader = Reader(path, head, reader.Position, storages, legacy: true);
        if (reader.Load() is PickleDict systemInfo
            && systemInfo.Items.Any(i => i.Key is "little_endian" && i.Value is false))
            throw new Gpt2OnnxException($"{path} was saved on a big-endian machine: load and save it again on a " +
                                        "little-endian one, or write model.safetensors");
        reader = Reader(path, head, reader.Position, storages, legacy: true);
        var stateDict = reader.Load();
        reader = Reader(path, head, reader.Position, storages, legacy: true);
        if (reader.Load() is not List<object?> keys || keys.Any(k => k is not string))
            throw NotTorch("the storage keys are not a list of strings");

        // The storages follow the pickles in the order of the keys, each as its element count and then its bytes.
        long at = reader.Position;
        var count = new byte[8];
        foreach (string key in keys.Cast<string>())
        {
            if (!storages.TryGetValue(key, out var storage))
                throw NotTorch($"the storage '{key}' is listed but no tensor uses it");
            if (at > length - 8) throw new Gpt2OnnxException($"{path} ends before the storage '{key}': the file is " +
                                                             "truncated; save it again");
            TensorFileReading.ReadExactly(file, count, at, path);
            long elements = BinaryPrimitives.ReadInt64LittleEndian(count);
            int size = SafeTensorsFile.ElementSize(storage.DType);
            if (elements != storage.Elements)
                throw new Gpt2OnnxException($"{path}: the storage '{key}' holds {elements} elements where its " +
                                            $"tensors say {storage.Elements}: the file is damaged");
            if (elements > (length - at - 8) / size)
                throw new Gpt2OnnxException($"{path} ends inside the storage '{key}': the file is truncated; save it " +
                                            "again");
            storage.FileOffset = at + 8;
            at += 8 + elements * size;
        }
        var unlisted = storages.Values.FirstOrDefault(s => s.FileOffset < 0);
        if (unlisted != null) throw NotTorch($"a tensor uses the storage '{unlisted.Key}', which is not stored");
        return stateDict;
    }

    private static PickleReader Reader(string source, byte[] data, int start, Dictionary<string, Storage> storages,
                                       bool legacy) =>
        new(source, data, start)
        {
            IsAllowed = g => g.Module == "collections" && g.Name == "OrderedDict"
                             || g.Module == "torch._utils" && g.Name is "_rebuild_tensor_v2" or "_rebuild_parameter"
                                 or "_rebuild_parameter_with_state"
                             || g.Module == "torch" && StorageTypes.ContainsKey(g.Name),
            Reduce = (function, arguments) => Rebuild(source, function, arguments),
            PersistentLoad = id => LoadStorage(source, id, storages, legacy),
        };

    private static object? Rebuild(string source, PickleGlobal function, object?[] arguments)
    {
        Exception Malformed() => new Gpt2OnnxException($"{source}: " +
                                                       $"{function}" +
            $"({string.Join(", ", arguments.Take(8).Select(PickleReader.Describe))}" +
            $"{(arguments.Length > 8 ? ", ..." : "")}) is not a call torch.save writes: the file is damaged");
        switch (function.Name)
        {
            case "OrderedDict":
            {
                var dict = new PickleDict();
                if (arguments.Length == 0) return dict;
                if (arguments is not [List<object?> pairs]) throw Malformed();
                foreach (var pair in pairs)
                {
                    var items = pair as object?[] ?? (pair as List<object?>)?.ToArray();
                    if (items is not { Length: 2 }) throw Malformed();
                    dict.Items.Add((items[0], items[1]));
                }
                return dict;
            }
            case "_rebuild_tensor_v2":
            {
                if (arguments is not [StorageView storage, long offset, object?[] size, object?[] stride, ..]
                    || arguments.Length > 7) throw Malformed();
                if (size.Length != stride.Length || size.Length > 8 || size.Any(d => d is not long)
                    || stride.Any(d => d is not long)) throw Malformed();
                return new TensorView(storage, offset, size.Cast<long>().ToArray(), stride.Cast<long>().ToArray());
            }
            case "_rebuild_parameter" or "_rebuild_parameter_with_state":
                return arguments is [TensorView tensor, ..] ? tensor : throw Malformed();
            default:
                throw Malformed(); // a storage class called directly
        }
    }

    /// <summary>
    /// A persistent id: ('storage', type, key, location, elements) in the zip format; the legacy format adds a
    /// view (view key, offset, elements) or None. The location (cpu, cuda:0, ...) does not change the bytes.
    /// </summary>
    private static StorageView LoadStorage(string source, object? id, Dictionary<string, Storage> storages, bool legacy)
    {
        if (id is not object?[] { Length: 5 or 6 } parts || parts[0] is not "storage"
            || parts[1] is not PickleGlobal type
            || type.Module != "torch" || !StorageTypes.TryGetValue(type.Name, out var dtype)
            || parts[2] is not string key || parts[4] is not long elements || elements < 0
                || parts.Length == 6 != legacy)
            throw new Gpt2OnnxException($"{source}: a persistent id that is not a torch storage: the file is damaged " +
                                        "or not a state dict");
        if (!storages.TryGetValue(key, out var storage)) storages[key] = storage = new Storage(key, dtype, elements);
        else if (storage.DType != dtype || storage.Elements != elements)
            throw new Gpt2OnnxException($"{source}: the storage '{key}' is described twice, differently: the file is " +
                                        "damaged");
        if (parts.Length == 6 && parts[5] is object?[] view)
        {
            if (view is not [string, long viewOffset, long viewElements] || viewOffset < 0 || viewElements < 0
                || viewOffset > elements - viewElements)
                throw new Gpt2OnnxException($"{source}: a storage view outside the storage '{key}': the file is " +
                                            "damaged");
            return new StorageView(storage, viewOffset, viewElements);
        }
        return new StorageView(storage, 0, elements);
    }

    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, Layout>) Describe(string path,
        object? stateDict)
    {
        if (stateDict is not PickleDict dict)
            throw new Gpt2OnnxException($"{path} holds a {PickleReader.Describe(stateDict)}, not a state dict (a " +
                                        "dict of tensors): save model.state_dict()");
        var tensors = new Dictionary<string, SafeTensorInfo>();
        var layouts = new Dictionary<string, Layout>();
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name) throw new Gpt2OnnxException($"{path}: the state dict has a " +
                                                                    $"{PickleReader.Describe(key)} key; tensor names " +
                                                                    "are strings");
            if (value is not TensorView view)
                throw new Gpt2OnnxException($"{path}: '{name}' is a {PickleReader.Describe(value)}, not a tensor: is " +
                                            "this a training checkpoint rather than a state dict? save " +
                                            "model.state_dict()");
            var dtype = view.Storage.Root.DType;
            int size = SafeTensorsFile.ElementSize(dtype);
            long available = view.Storage.Elements;
            Exception Outside() => new Gpt2OnnxException($"{path}: '{name}' (shape " +
                                                         $"[{string.Join(", ", view.Shape)}], offset {view.Offset}) " +
                                                         $"reaches outside its storage's {available} elements: the " +
                                                         "file is damaged or hostile");
            if (view.Offset < 0 || view.Offset > available) throw Outside();
            long elements = 1, last = view.Offset; // last: the highest element the view touches
            bool rowMajor = true;
            for (int d = view.Shape.Length - 1; d >= 0; d--)
            {
                long n = view.Shape[d], stride = view.Strides[d];
                if (n < 0 || stride < 0) throw new Gpt2OnnxException($"{path}: '{name}' has a negative size or " +
                                                                     "stride: the file is damaged");
                if (n == 0) { elements = 0; break; }
                if (n != 1 && stride != elements) rowMajor = false;
                // More elements than the storage holds would need overlapping (or broadcast) views, which no state dict
                // saves.
                if (elements > available / n || (stride > 0 && n - 1 > (available - 1 - last) / stride))
                    throw Outside();
                elements *= n;
                last += (n - 1) * stride;
            }
            if (elements > 0 && last >= available) throw Outside();
            long start = view.Storage.Root.FileOffset + (view.Storage.Offset + view.Offset) * size;
            if (!tensors.TryAdd(name, new SafeTensorInfo(name, dtype, view.Shape, start, start + elements * size)))
                throw new Gpt2OnnxException($"{path}: '{name}' appears twice: the file is damaged");
            layouts[name] = new Layout(start, rowMajor ? null : view.Strides);
        }
        return (tensors, layouts);
    }

    /// <summary>True when two tensors are the same view of the same bytes (a tied weight saved once), so equal without
    /// reading them.</summary>
    public bool SameView(SafeTensorInfo a, SafeTensorInfo b)
    {
        Layout la = _layouts[a.Name], lb = _layouts[b.Name];
        return la.Start == lb.Start && a.DType == b.DType && a.Shape.SequenceEqual(b.Shape)
               && (la.Strides == null ? lb.Strides == null : lb.Strides != null
                   && la.Strides.SequenceEqual(lb.Strides));
    }

    public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination)
    {
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException("destination size differs from the tensor's");
        var layout = _layouts[tensor.Name];
        if (layout.Strides == null)
        {
            TensorFileReading.ReadExactly(_file, destination, layout.Start, Path);
            return;
        }
        // A strided view (a transposed tensor saved as it was): read the storage span it covers, then gather.
        if (tensor.ElementCount == 0) return;
        int size = SafeTensorsFile.ElementSize(tensor.DType), rank = tensor.Shape.Length;
        long span = 1;
        for (int d = 0; d < rank; d++) span += (tensor.Shape[d] - 1) * layout.Strides[d];
        var source = new byte[span * size];
        TensorFileReading.ReadExactly(_file, source, layout.Start, Path);
        TensorFileReading.Gather(source, destination, tensor.Shape, layout.Strides, size);
    }

    public void Dispose() => _file.Dispose();
}
