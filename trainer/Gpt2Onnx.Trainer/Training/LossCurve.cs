using System.Globalization;
using System.Text;
using Gpt2Onnx.Runtime.IO;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>Draws the training and validation loss against the step as an SVG picture (no dependencies).</summary>
public static class LossCurve
{
    public static void Write(string path, IReadOnlyList<(int Step, double Loss)> train, IReadOnlyList<(int Step, double Loss)> val)
    {
        const int width = 720, height = 400, left = 60, right = 20, top = 30, bottom = 40;
        var all = train.Concat(val).Where(p => double.IsFinite(p.Loss)).ToList();
        if (all.Count == 0) return;
        int maxStep = Math.Max(1, all.Max(p => p.Step));
        double lo = all.Min(p => p.Loss), hi = all.Max(p => p.Loss);
        if (hi - lo < 1e-9) hi = lo + 1;
        string X(int step) => (left + (width - left - right) * (double)step / maxStep).ToString("F1", CultureInfo.InvariantCulture);
        string Y(double loss) => (top + (height - top - bottom) * (hi - loss) / (hi - lo)).ToString("F1", CultureInfo.InvariantCulture);
        string Points(IEnumerable<(int Step, double Loss)> points) => string.Join(" ", points.Select(p => $"{X(p.Step)},{Y(p.Loss)}"));

        // A running mean over 1% of the steps keeps the training curve readable.
        int window = Math.Max(1, train.Count / 100);
        var smooth = train.Select((p, i) => (p.Step, train.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average(q => q.Loss))).ToList();

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"black\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"black\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double loss = lo + (hi - lo) * i / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{Y(loss)}\" text-anchor=\"end\">{loss:F2}</text>\n");
            int step = maxStep * i / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(step)}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{step}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{(width + left) / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">step</text>\n");
        if (smooth.Count > 1) svg.Append($"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{Points(smooth)}\"/>\n");
        if (val.Count > 1) svg.Append($"<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"{Points(val)}\"/>\n");
        foreach (var p in val) svg.Append($"<circle cx=\"{X(p.Step)}\" cy=\"{Y(p.Loss)}\" r=\"3\" fill=\"#d62728\"/>\n");
        svg.Append("<text x=\"70\" y=\"20\" fill=\"#1f77b4\">train loss</text><text x=\"160\" y=\"20\" fill=\"#d62728\">val loss</text>\n");
        svg.Append("</svg>\n");
        AtomicFile.WriteAllText(path, svg.ToString());
    }
}
