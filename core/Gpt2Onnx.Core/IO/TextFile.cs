using System.Text;

namespace Gpt2Onnx.Core.IO;

/// <summary>A whole UTF-8 text file read as one string, for tools that need it whole: size-capped first, decoded
/// strictly.</summary>
public static class TextFile
{
    /// <summary>
    /// The text of <paramref name="path"/> (a leading byte-order mark dropped). A file over
    /// <paramref name="maxBytes"/> or not UTF-8 is one error; <paramref name="instead"/> says what to do with a large
    /// one.
    /// </summary>
    public static string Read(string path, long maxBytes, string instead)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new Gpt2OnnxException(Directory.Exists(path)
                                        ? $"{path} is a folder: pass a text file"
                                            : $"{path} does not exist: pass an existing text file");
        if (info.Length > maxBytes) throw new Gpt2OnnxException($"{path} is {info.Length:N0} bytes, over the " +
                                                                $"{maxBytes:N0} this reads whole: {instead}");
        var bytes = BoundedFile.ReadAllBytes(path, maxBytes)
                    ?? throw new Gpt2OnnxException($"{path} holds over the {maxBytes:N0} bytes this reads whole (a " +
                                                   $"device or a pipe?): {instead}");
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true)
                .GetString(JsonText.WithoutByteOrderMark(bytes).Span);
        }
        catch (DecoderFallbackException)
        {
            throw new Gpt2OnnxException($"{path} is not UTF-8 text: convert it to UTF-8 first");
        }
    }
}
