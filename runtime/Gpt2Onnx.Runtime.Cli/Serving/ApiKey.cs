using System.Security.Cryptography;
using System.Text;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>The <c>Authorization: Bearer KEY</c> check, in constant time so the comparison leaks nothing about the key.</summary>
internal static class ApiKey
{
    /// <summary>The environment variable <c>gpt2-run serve</c> reads the key from when --api-key is not given.</summary>
    public const string EnvironmentVariable = "GPT2ONNX_API_KEY";

    public static bool Matches(HttpRequest request, string key)
    {
        string header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), Encoding.UTF8.GetBytes(key));
    }
}
