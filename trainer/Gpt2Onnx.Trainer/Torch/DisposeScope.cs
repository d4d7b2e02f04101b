namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// Frees every tensor created on this thread while the scope is open, when it is disposed: one training
/// step's activations and gradients go in one deterministic sweep, never through the GC. A tensor that
/// must outlive the scope is handed out with <see cref="MoveToOuter"/>. Scopes nest.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? _current;

    private readonly DisposeScope? _outer;
    private readonly List<Tensor> _tensors = new(256);
    private bool _disposed;

    private DisposeScope(DisposeScope? outer) => _outer = outer;

    /// <summary>Opens a scope on this thread; dispose it on the same thread.</summary>
    public static DisposeScope Enter() => _current = new DisposeScope(_current);

    internal static DisposeScope? Current => _current;

    internal void Add(Tensor tensor) => _tensors.Add(tensor);

    /// <summary>Takes <paramref name="tensor"/> out of this scope (into the enclosing one, if any) and returns it.</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        if (tensor.Scope != this) throw new InvalidOperationException("the tensor does not belong to this scope");
        tensor.Scope = _outer;
        _outer?.Add(tensor);
        return tensor;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this) throw new InvalidOperationException("dispose scopes must be disposed innermost first, on the thread that opened them");
        foreach (var tensor in _tensors)
            if (tensor.Scope == this) tensor.Dispose();
        _tensors.Clear();
        _current = _outer;
    }
}
