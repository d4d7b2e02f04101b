using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>
/// A TensorFlow GPT-2 checkpoint seen under this project's names (<see cref="TfTensorMap"/>). Variables the map
/// does not name are never read: optimizer slots (a mapped variable's name with a suffix, such as Adam's
/// model/h0/attn/c_attn/w/Adam or Adafactor's .../kernel/adafactor_vr) and everything outside the model's scope
/// (global_step, beta1_power, ...). A variable inside the scope that the map does not know is an error: the
/// checkpoint has more layers than its hyperparameters say, or is another model.
/// </summary>
public sealed class TfMappedWeights : ITensorFile
{
    private readonly TensorBundle _bundle;
    private readonly Dictionary<string, SafeTensorInfo[]> _parts = new();
    private readonly Dictionary<string, SafeTensorInfo> _tensors = new();

    public string Path => _bundle.Path;
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;
    public IReadOnlyDictionary<string, string> Metadata => _bundle.Metadata;
    /// <summary>How many variables were left unread (optimizer slots, counters).</summary>
    public int SkippedCount { get; }

    public TfMappedWeights(TensorBundle bundle, IEnumerable<TfSource> sources, string scope)
    {
        _bundle = bundle;
        var missing = new List<string>();
        foreach (var source in sources)
        {
            var parts = source.Parts.Select(p => bundle.Tensors.GetValueOrDefault(p)).ToArray();
            missing.AddRange(source.Parts.Where(p => !bundle.Tensors.ContainsKey(p)));
            if (parts.Any(p => p == null)) continue;
            _parts[source.Name] = parts!;
            _tensors[source.Name] = Describe(source.Name, parts!);
        }
        if (missing.Count > 0)
            throw new Gpt2OnnxException($"{Path} lacks variables its hyperparameters imply ({Summarize(missing)}): " +
                                        "does n_layer match the checkpoint?");
        SkippedCount = CountUnmapped(scope);
    }

    /// <summary>The tensor the parts make: one part with a leading 1 dropped, or parts joined on their last axis.
    /// </summary>
    private SafeTensorInfo Describe(string name, SafeTensorInfo[] parts)
    {
        var first = parts[0];
        long[] shape = first.Shape is [1, _, _] ? first.Shape[1..] : first.Shape;
        if (parts.Length > 1)
        {
            if (parts.Any(p => p.DType != first.DType || !p.Shape.SequenceEqual(first.Shape)) || shape.Length == 0)
                throw new Gpt2OnnxException($"{Path}: {string.Join(", ", parts.Select(p => $"'{p.Name}' " +
                    $"[{string.Join(", ", p.Shape)}]"))} must share one type and shape to form {name}: the " +
                    "checkpoint is damaged or not GPT2_ML's");
            shape = [.. shape[..^1], shape[^1] * parts.Length];
        }
        long bytes = parts.Sum(p => p.ByteLength);
        return new SafeTensorInfo(name, first.DType, shape, 0, bytes);
    }

    private int CountUnmapped(string scope)
    {
        var mapped = _parts.Values.SelectMany(p => p).Select(p => p.Name).ToHashSet();
        var unknown = new List<string>();
        int skipped = _bundle.Skipped.Count;
        foreach (var name in _bundle.Tensors.Keys.Where(n => !mapped.Contains(n)))
        {
            bool slot = Ancestors(name).Any(mapped.Contains);
            if (slot || !name.StartsWith(scope, StringComparison.Ordinal)) skipped++;
            else unknown.Add(name);
        }
        if (unknown.Count > 0)
            throw new Gpt2OnnxException($"{Path} has variables a GPT-2 of its hyperparameters does not " +
                                        $"({Summarize(unknown)}): does n_layer match the checkpoint?");
        return skipped;
    }

    private static IEnumerable<string> Ancestors(string name)
    {
        for (int cut = name.LastIndexOf('/'); cut > 0; cut = name.LastIndexOf('/', cut - 1))
            yield return name[..cut];
    }

    private static string Summarize(List<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");

    public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination)
    {
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException("destination size differs from the tensor's");
        var parts = _parts[tensor.Name];
        if (parts.Length == 1)
        {
            _bundle.ReadBytes(parts[0], destination);
            return;
        }
        // Row r of the joined tensor is row r of each part in turn.
        long rowBytes = parts[0].Shape[^1] * SafeTensorsFile.ElementSize(tensor.DType);
        long rows = parts[0].ByteLength / rowBytes;
        for (int p = 0; p < parts.Length; p++)
        {
            var part = new byte[parts[p].ByteLength];
            _bundle.ReadBytes(parts[p], part);
            for (long r = 0; r < rows; r++)
                part.AsSpan((int)(r * rowBytes), (int)rowBytes)
                    .CopyTo(destination[(int)((r * parts.Length + p) * rowBytes)..]);
        }
    }

    public void Dispose() => _bundle.Dispose();
}
