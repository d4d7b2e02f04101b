using System.Text;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// The text of a sequence being generated, token by token: whole UTF-8 characters only, handed out as
/// they become final, and cut before the first stop string. Text that may be the start of a stop string
/// is held back until it is known not to be. Used by the runtime's generator and by the trainer's sampler.
/// </summary>
public sealed class GeneratedText
{
    private readonly IReadOnlyList<string> _stopStrings;
    private readonly StreamingDecoder _decoder;
    private readonly StringBuilder _text = new();
    private readonly int _holdBack;
    private int _emitted;

    public GeneratedText(ITokenizer tokenizer, IReadOnlyList<string> stopStrings)
    {
        _stopStrings = stopStrings;
        _decoder = tokenizer.CreateStreamingDecoder();
        _holdBack = stopStrings.Count == 0 ? 0 : stopStrings.Max(s => s.Length) - 1;
    }

    /// <summary>True once a stop string appeared; the text ends before it.</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// Adds a token's text and hands out what became final. When <paramref name="watchStops"/> (false while
    /// fewer than the minimum new tokens exist) and a stop string appears, the text is cut before the
    /// earliest one and true returned. The held-back tail is as long as the longest stop string less one, so
    /// a stop string never begins inside text already handed out, and the search starts where that ends.
    /// </summary>
    public bool Append(int token, Action<string>? onText, bool watchStops = true)
    {
        if (Stopped) throw new InvalidOperationException("the text already ended at a stop string");
        _decoder.AppendTo(token, _text);
        if (watchStops && _stopStrings.Count > 0)
        {
            string pending = _text.ToString(_emitted, _text.Length - _emitted);
            int earliest = -1;
            foreach (var stop in _stopStrings)
            {
                int at = pending.IndexOf(stop, StringComparison.Ordinal);
                if (at >= 0 && (earliest < 0 || at < earliest)) earliest = at;
            }
            if (earliest >= 0)
            {
                _text.Length = _emitted + earliest;
                Emit(_text.Length, onText);
                return Stopped = true;
            }
        }
        Emit(_text.Length - _holdBack, onText);
        return false;
    }

    /// <summary>The whole text: what the decoder still holds is added (unless a stop string ended it) and handed
    /// out.</summary>
    public string Complete(Action<string>? onText)
    {
        if (!Stopped) _text.Append(_decoder.Flush());
        Emit(_text.Length, onText);
        return _text.ToString();
    }

    private void Emit(int upTo, Action<string>? onText)
    {
        if (upTo <= _emitted) return;
        onText?.Invoke(_text.ToString(_emitted, upTo - _emitted));
        _emitted = upTo;
    }
}
