using System.Security.Cryptography;
using System.Text;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>The <c>Authorization: Bearer KEY</c> check, in constant time: the comparison leaks nothing.</summary>
internal static class ApiKey
{
    /// <summary>Where <c>gpt2-run serve</c> reads the key when --api-key is not given.</summary>
    public const string EnvironmentVariable = "GPT2ONNX_API_KEY";

    public static bool Matches(HttpRequest request, string key)
    {
        string header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        byte[] given = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key));
    }
}
