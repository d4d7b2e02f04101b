using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpt2Onnx.Runtime.Lens;

/// <summary>A candidate token at one layer and position: its id, text and lens probability.</summary>
public sealed record LensCandidate(int Id, string Token, double Probability);

/// <summary>
/// A compared token (say " is" against " are"): its rank (1 = most likely) and probability, [layer][position].
/// </summary>
public sealed record LensComparison(string Text, int Id, int[][] Rank, double[][] Probability);

/// <summary>
/// The logit lens of one sequence. Layer 0 is the embeddings, layer i the residual stream after block i; each
/// is read through the final layer norm and the LM head, so the last layer's distribution is the model's own.
/// Every table is [layer][position]; at position t the lens predicts token t + 1, and the chosen token is the
/// one the model itself ranks first there (what greedy decoding takes).
/// </summary>
public sealed record LensReport(
    string Model, int[] Ids, string[] Tokens, int PromptLength, string[] LayerNames, int[] Chosen,
    string[] ChosenTokens, int[][] ChosenRank, double[][] ChosenProbability, LensCandidate[][][] Top,
    LensComparison[] Compare)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>One JSON object, the same numbers the page shows.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
