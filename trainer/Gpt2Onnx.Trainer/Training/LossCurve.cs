using Gpt2Onnx.Core.IO;
using ScottPlot;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// The run's curves as loss.png and loss.svg (ScottPlot): training loss (a running mean over 1% of the steps, so it
/// stays readable) and validation loss against the step, with the learning rate on a second axis.
/// </summary>
public static class LossCurve
{
    private const int Width = 900, Height = 500;

    /// <summary>Writes loss.png and loss.svg into <paramref name="folder"/>, each complete or not at all.</summary>
    public static void Write(string folder, MetricsLog.Curves curves)
    {
        if (curves.Train.Count == 0) return;
        var plot = new Plot();
        var steps = curves.Train.Select(p => (double)p.Step).ToArray();
        int window = Math.Max(1, curves.Train.Count / 100);
        var smooth = new double[curves.Train.Count];
        double sum = 0;
        for (int i = 0; i < smooth.Length; i++)
        {
            sum += curves.Train[i].Loss - (i >= window ? curves.Train[i - window].Loss : 0);
            smooth[i] = sum / Math.Min(i + 1, window);
        }
        var train = plot.Add.ScatterLine(steps, smooth);
        train.LegendText = "train loss";
        if (curves.Val.Count > 0)
        {
            var val = plot.Add.Scatter(curves.Val.Select(p => (double)p.Step).ToArray(),
                                       curves.Val.Select(p => p.Loss).ToArray());
            val.LegendText = "val loss";
            val.LineWidth = 2;
            val.MarkerSize = 6;
        }
        var lrAxis = plot.Axes.AddRightAxis();
        lrAxis.LabelText = "learning rate";
        var lr = plot.Add.ScatterLine(curves.LearningRate.Select(p => (double)p.Step).ToArray(),
                                      curves.LearningRate.Select(p => p.Value).ToArray());
        lr.LegendText = "learning rate";
        lr.LinePattern = LinePattern.Dashed;
        lr.Axes.YAxis = lrAxis;
        plot.Axes.Bottom.Label.Text = "step";
        plot.Axes.Left.Label.Text = "loss";
        plot.ShowLegend(Alignment.UpperRight);
        var png = plot.GetImageBytes(Width, Height, ImageFormat.Png);
        AtomicFile.Write(Path.Combine(folder, "loss.png"), stream => stream.Write(png));
        AtomicFile.WriteAllText(Path.Combine(folder, "loss.svg"), plot.GetSvgXml(Width, Height));
    }
}
