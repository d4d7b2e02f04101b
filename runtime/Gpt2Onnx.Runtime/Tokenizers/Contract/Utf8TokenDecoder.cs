using System.Buffers;
using System.Text;

namespace Gpt2Onnx.Runtime.Tokenizers.Contract;

/// <summary>
/// Microsoft.ML.Tokenizers' span decoding for tokens that are UTF-8 bytes: writes as many ids as fit, and when
/// they do not all fit, stops after the last id that completes a character, so the caller can go on from there.
/// </summary>
internal static class Utf8TokenDecoder
{
    public static OperationStatus Decode(IEnumerable<int> ids, Func<int, byte[]> bytesOf, Span<char> destination,
                                         out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var utf8 = new UTF8Encoding(false, false).GetDecoder();
        int consumed = 0, written = 0;
        idsConsumed = charsWritten = 0; // the last point with no character half written
        foreach (int id in ids)
        {
            byte[] bytes = bytesOf(id);
            if (written + utf8.GetCharCount(bytes, flush: false) > destination.Length)
                return OperationStatus.DestinationTooSmall;
            written += utf8.GetChars(bytes, destination[written..], flush: false);
            consumed++;
            if (utf8.GetCharCount([], flush: true) == 0) (idsConsumed, charsWritten) = (consumed, written);
        }
        if (written + utf8.GetCharCount([], flush: true) > destination.Length)
            return OperationStatus.DestinationTooSmall;
        written += utf8.GetChars([], destination[written..], flush: true);
        (idsConsumed, charsWritten) = (consumed, written);
        return OperationStatus.Done;
    }
}
