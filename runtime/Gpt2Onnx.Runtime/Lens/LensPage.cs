using System.Reflection;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Lens;

/// <summary>
/// Writes a lens report as one self-contained HTML page (no network: its script and styles are inline, the
/// report's JSON embedded): a layer × position heatmap of the chosen token's rank, the top candidates per
/// layer at a selected position, and the compared tokens' ranks across layers.
/// </summary>
public static class LensPage
{
    private const string Placeholder = "/*LENS_JSON*/";

    public static string Render(LensReport report)
    {
        const string template = "Gpt2Onnx.Runtime.Lens.LensPage.html";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(template)
                           ?? throw new InvalidOperationException("the lens page template is not embedded");
        using var reader = new StreamReader(stream);
        // "</" inside the JSON would end the script element early; "<\/" is the same JSON string.
        return reader.ReadToEnd().Replace(Placeholder, report.ToJson().Replace("</", "<\\/"));
    }

    /// <summary>Writes the page through a temporary file renamed into place.</summary>
    public static void Write(LensReport report, string path) => AtomicFile.WriteAllText(path, Render(report));
}
