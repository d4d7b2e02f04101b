using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// The OrtApi table, bound once per process for API version 30, and the one path every OrtStatus goes
/// through: a failure becomes one <see cref="OrtException"/> with ORT's code and message, and the status
/// is released in all cases.
/// </summary>
internal static unsafe partial class OrtApi
{
    /// <summary>The API version this binding asks for: ONNX Runtime 1.30.</summary>
    public const uint Version = 30;

    private static readonly OrtApiTable* TablePointer = Bind();

    public static ref readonly OrtApiTable Api => ref *TablePointer;

    private static OrtApiTable* Bind()
    {
        var table = (OrtApiTable*)OrtLibrary.ApiBase->GetApi(Version);
        if (table == null)
            throw new Gpt2OnnxException($"the ONNX Runtime library ({OrtLibrary.LoadedFrom}, version {OrtLibrary.Version}) does not provide API version {Version}: " +
                                        $"install ONNX Runtime {OrtLibrary.ExpectedVersion} (scripts/setup.sh) or point GPT2ONNX_ORT_LIB at it");
        return table;
    }

    /// <summary>Throws the status's error, if any, and releases it.</summary>
    public static void Check(IntPtr status)
    {
        if (status == IntPtr.Zero) return;
        try
        {
            var code = (OrtErrorCode)Api.GetErrorCode(status);
            string message = Marshal.PtrToStringUTF8((IntPtr)Api.GetErrorMessage(status)) ?? "(no message)";
            throw new OrtException(code, OneLine(message));
        }
        finally
        {
            Api.ReleaseStatus(status);
        }
    }

    /// <summary>
    /// ORT's message as one line: line breaks become spaces, and a source location with the C++ function's
    /// signature (<c>/onnxruntime_src/…/model.cc:187 onnxruntime::Model::Model(…) </c>, the signature's return
    /// type included), its short form, and the error-code prefix of a wrapped status (<c>[ONNXRuntimeError] : 1 : FAIL : </c>) are dropped.
    /// </summary>
    internal static string OneLine(string message)
    {
        message = SourceLocation().Replace(message.Trim(), "", 1);
        message = ErrorCodePrefix().Replace(message, "");
        message = ShortSourceLocation().Replace(message, "");
        return LineBreaks().Replace(message, " ");
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"/\S+\.(?:cc|cpp|h):\d+ [^(]*?\(.*?\) (?=\S)")]
    private static partial System.Text.RegularExpressions.Regex SourceLocation();

    /// <summary>The short form, file:line and function, that some of ORT's messages carry inside them (<c>tensorprotoutils.cc:1469 ValidateEmbeddedTensorProtoDataSizeAndShape </c>).</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\b\w+\.(?:cc|cpp|h):\d+ \w+ ")]
    private static partial System.Text.RegularExpressions.Regex ShortSourceLocation();

    [System.Text.RegularExpressions.GeneratedRegex(@"\[ONNXRuntimeError\] : \d+ : \w+ : ")]
    private static partial System.Text.RegularExpressions.Regex ErrorCodePrefix();

    [System.Text.RegularExpressions.GeneratedRegex(@"\s*[\r\n]+\s*")]
    private static partial System.Text.RegularExpressions.Regex LineBreaks();

    /// <summary>The default CPU allocator (owned by ONNX Runtime, never released).</summary>
    public static IntPtr DefaultAllocator
    {
        get
        {
            IntPtr allocator;
            Check(Api.GetAllocatorWithDefaultOptions(&allocator));
            return allocator;
        }
    }

    /// <summary>Reads and frees a string that ONNX Runtime allocated with the default allocator.</summary>
    public static string TakeString(byte* text)
    {
        try
        {
            return Marshal.PtrToStringUTF8((IntPtr)text) ?? "";
        }
        finally
        {
            Check(Api.AllocatorFree(DefaultAllocator, text));
        }
    }

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="text"/> for a call.</summary>
    public static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text + "\0");
}

/// <summary>OrtErrorCode, as numbered in the header.</summary>
public enum OrtErrorCode
{
    Ok, Fail, InvalidArgument, NoSuchFile, NoModel, EngineError, RuntimeException, InvalidProtobuf, ModelLoaded,
    NotImplemented, InvalidGraph, EpFail, ModelLoadCanceled, ModelRequiresCompilation, NotFound,
}

/// <summary>An ONNX Runtime call failed; carries ORT's error code and message.</summary>
public sealed class OrtException(OrtErrorCode code, string message) : Gpt2OnnxException($"ONNX Runtime: {message} ({code})")
{
    public OrtErrorCode Code { get; } = code;
    public string OrtMessage { get; } = message;
}
