using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>A global a pickle names (GLOBAL or STACK_GLOBAL): only a name here; nothing is imported or
/// called.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A pickle that runs past the end of the bytes it was given (which may be only the start of a
/// file).</summary>
public sealed class PickleTruncatedException(string message) : Gpt2OnnxException(message);

/// <summary>A dict or OrderedDict from a pickle, in insertion order.</summary>
public sealed class PickleDict
{
    public List<(object? Key, object? Value)> Items { get; } = [];

    /// <summary>The value under a string key (the last, if given twice), or null when there is none.</summary>
    public object? this[string key] => Items.LastOrDefault(i => i.Key is string k && k == key).Value;
}

/// <summary>
/// Reads the data a pickle (protocols 2 to 5) describes without running any of it: a stack machine over the
/// opcodes that describe plain values (None, bools, integers, floats, strings, bytes, tuples as object?[],
/// lists, dicts as <see cref="PickleDict"/>). The opcodes that would import and call Python code are handed
/// to the caller instead: a GLOBAL must be on the caller's allow list, and REDUCE, NEWOBJ and BINPERSID
/// become calls of the caller's <see cref="Reduce"/> and <see cref="PersistentLoad"/>, which build inert
/// records or refuse. An opcode outside this set (exec-like ones such as INST, OBJ, EXT) is an error. The
/// pickle is a bounded byte array, every length is checked against what remains of it, and the memo is a
/// dictionary, so a hostile pickle cannot allocate more than a small multiple of its own size.
/// </summary>
public sealed class PickleReader
{
    private readonly string _source;
    private readonly byte[] _data;
    private int _at;

    public required Func<PickleGlobal, bool> IsAllowed { get; init; }
    public required Func<PickleGlobal, object?[], object?> Reduce { get; init; }
    public required Func<object?, object?> PersistentLoad { get; init; }

    /// <param name="source">The file (and member) the pickle came from, for messages.</param>
    /// <param name="start">Where the pickle starts in <paramref name="data"/>; <see cref="Position"/> is past its STOP
    /// after <see cref="Load"/>.</param>
    public PickleReader(string source, byte[] data, int start = 0)
    {
        _source = source;
        _data = data;
        _at = start;
    }

    public int Position => _at;

    private sealed class Mark;
    private static readonly Mark MarkObject = new();

    public object? Load()
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        while (true)
        {
            int offset = _at;
            byte op = Byte();
            switch (op)
            {
                case 0x80: if (Byte() > 5) throw Error(offset, "a pickle protocol newer than 5"); break; // PROTO
                case 0x95: Bytes(8); break;  // FRAME: a length hint only
                case (byte)'.': return stack.Count == 1
                    ? stack[0] : throw Error(offset, $"STOP with {stack.Count} values on the stack");
                case (byte)'(': stack.Add(MarkObject); break;
                case (byte)')': stack.Add(Array.Empty<object?>()); break;
                case (byte)']': stack.Add(new List<object?>()); break;
                case (byte)'}': stack.Add(new PickleDict()); break;
                case (byte)'t': stack.Add(PopToMark(stack, offset).ToArray()); break;
                case 0x85: stack.Add(new[] { Pop(stack, offset) }); break;
                case 0x86: { var b = Pop(stack, offset); var a = Pop(stack, offset); stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(stack, offset); var b = Pop(stack, offset); var a = Pop(stack,
                    offset); stack.Add(new[] { a, b, c }); break; }
                case (byte)'l': stack.Add(PopToMark(stack, offset)); break;
                case (byte)'d': { var dict = new PickleDict(); AddPairs(dict, PopToMark(stack, offset),
                                                                        offset); stack.Add(dict); break; }
                case (byte)'a': { var value = Pop(stack, offset); Top<List<object?>>(stack, offset,
                                                                                     "APPEND").Add(value); break; }
                case (byte)'e': { var items = PopToMark(stack, offset); Top<List<object?>>(stack, offset,
                    "APPENDS").AddRange(items); break; }
                case (byte)'s': { var value = Pop(stack, offset); var key = Pop(stack, offset); Top<PickleDict>(stack,
                    offset, "SETITEM").Items.Add((key, value)); break; }
                case (byte)'u': { var items = PopToMark(stack,
                                                        offset); AddPairs(Top<PickleDict>(stack, offset, "SETITEMS"),
                                                                          items, offset); break; }
                case (byte)'N': stack.Add(null); break;
                case 0x88: stack.Add(true); break;
                case 0x89: stack.Add(false); break;
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))); break;
                case (byte)'K': stack.Add((long)Byte()); break;
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))); break;
                case 0x8a: stack.Add(Long(Byte(), offset)); break;                                           // LONG1
                case 0x8b: stack.Add(Long(Length(4, offset), offset)); break;                               // LONG4
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
                case (byte)'X': stack.Add(Utf8(Length(4, offset))); break;  // BINUNICODE
                case 0x8c: stack.Add(Utf8(Byte())); break;  // SHORT_BINUNICODE
                case 0x8d: stack.Add(Utf8(Length(8, offset))); break;  // BINUNICODE8
                case (byte)'U': stack.Add(Encoding.Latin1.GetString(Bytes(Byte()))); break;  // SHORT_BINSTRING
                case (byte)'T': stack.Add(Encoding.Latin1.GetString(Bytes(Length(4, offset)))); break;      // BINSTRING
                case (byte)'C': stack.Add(Bytes(Byte()).ToArray()); break;  // SHORT_BINBYTES
                case (byte)'B': stack.Add(Bytes(Length(4, offset)).ToArray()); break;                       // BINBYTES
                case (byte)'q': memo[Byte()] = Peek(stack, offset); break;                                   // BINPUT
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))] = Peek(stack, offset); break;
                case 0x94: memo[memo.Count] = Peek(stack, offset); break;                                    // MEMOIZE
                case (byte)'h': stack.Add(Recall(memo, Byte(), offset)); break;                              // BINGET
                case (byte)'j': stack.Add(Recall(memo, BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)),
                                                 offset)); break;
                case (byte)'0': Pop(stack, offset); break;
                case (byte)'1': PopToMark(stack, offset); break;
                case (byte)'2': stack.Add(Peek(stack, offset)); break;
                case (byte)'c': stack.Add(Global(Line(offset), Line(offset), offset)); break;
                case 0x93:  // STACK_GLOBAL
                {
                    var name = Pop(stack, offset) as string;
                    var module = Pop(stack, offset) as string;
                    if (name == null || module == null) throw Error(offset, "STACK_GLOBAL without two strings");
                    stack.Add(Global(module, name, offset));
                    break;
                }
                case (byte)'R':
                case 0x81:  // REDUCE, NEWOBJ
                {
                    var arguments = Pop(stack, offset) as object?[]
                        ?? throw Error(offset, "a call whose arguments are not a tuple");
                    var function = Pop(stack, offset) as PickleGlobal
                        ?? throw Error(offset, "a call of something that is not a global");
                    stack.Add(Reduce(function, arguments));
                    break;
                }
                // BUILD: an object's attributes (such as a state dict's _metadata); the data needs none
                case (byte)'b': Pop(stack, offset); Peek(stack, offset); break;
                case (byte)'Q': stack.Add(PersistentLoad(Pop(stack, offset))); break;                       // BINPERSID
                default: throw Error(offset, $"opcode 0x{op:x2}, which a saved state dict does not use");
            }
        }
    }

    private Gpt2OnnxException Error(int offset, string what) =>
        new($"{_source}: the pickle holds {what} (at byte {offset}): the file is damaged, or not a state dict of " +
            "tensors; save the weights with safetensors instead");

    private byte Byte() =>
        _at < _data.Length ? _data[_at++]
            : throw new PickleTruncatedException(Error(_at, "no STOP before its end").Message);

    private ReadOnlySpan<byte> Bytes(long count)
    {
        if (count > _data.Length - _at)
            throw new PickleTruncatedException(Error(_at, $"a length of {count} bytes beyond its end").Message);
        var span = _data.AsSpan(_at, (int)count);
        _at += (int)count;
        return span;
    }

    private long Length(int width, int offset)
    {
        long length = width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))
            : BinaryPrimitives.ReadInt64LittleEndian(Bytes(8));
        return length >= 0 && length <= _data.Length - _at
            ? length : throw new PickleTruncatedException(Error(offset,
                                                                $"a length of {length} bytes beyond its end").Message);
    }

    private string Utf8(long length) => Encoding.UTF8.GetString(Bytes(length));

    /// <summary>A little-endian two's-complement integer; torch's legacy format stores its 80-bit magic number this
    /// way.</summary>
    private object Long(long length, int offset)
    {
        if (length > 32) throw Error(offset, $"a {length}-byte integer");
        var value = new BigInteger(Bytes(length), isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    private string Line(int offset)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _at, Math.Min(256, _data.Length - _at));
        if (end < 0) throw Error(offset, "a GLOBAL without a line end");
        string line = Encoding.UTF8.GetString(_data, _at, end - _at);
        _at = end + 1;
        return line;
    }

    private PickleGlobal Global(string module, string name, int offset)
    {
        var global = new PickleGlobal(module, name);
        return IsAllowed(global) ? global
            : throw new Gpt2OnnxException($"{_source}: the pickle asks for {global} (at byte {offset}), which a " +
                                          "state dict of tensors never needs, so it is refused (nothing in the file " +
                                          "is run): save the weights with safetensors instead");
    }

    private object? Recall(Dictionary<long, object?> memo, long index, int offset) =>
        memo.TryGetValue(index, out var value)
            ? value : throw Error(offset, $"a reference to memo entry {index}, never stored");

    private object? Pop(List<object?> stack, int offset)
    {
        var value = Peek(stack, offset);
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private object? Peek(List<object?> stack, int offset) =>
        stack.Count > 0 && stack[^1] is not Mark
            ? stack[^1] : throw Error(offset, "an opcode with too few values on the stack");

    private T Top<T>(List<object?> stack, int offset, string opcode) where T : class =>
        Peek(stack, offset) as T ?? throw Error(offset, $"{opcode} on a {Describe(stack[^1])}");

    private List<object?> PopToMark(List<object?> stack, int offset)
    {
        int mark = stack.FindLastIndex(v => v is Mark);
        if (mark < 0) throw Error(offset, "an opcode that needs a MARK without one");
        var items = stack.GetRange(mark + 1, stack.Count - mark - 1);
        stack.RemoveRange(mark, stack.Count - mark);
        return items;
    }

    private void AddPairs(PickleDict dict, List<object?> items, int offset)
    {
        if (items.Count % 2 != 0) throw Error(offset, "a dict with a key but no value");
        for (int i = 0; i < items.Count; i += 2) dict.Items.Add((items[i], items[i + 1]));
    }

    public static string Describe(object? value) => value switch
    {
        null => "None",
        string => "string",
        long or BigInteger => "integer",
        double => "float",
        bool => "bool",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        _ => value.GetType().Name,
    };
}
