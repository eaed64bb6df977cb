namespace UltraMem.Reporting;

/// <summary>Loss-curve PNGs (ScottPlot): training loss (raw and smoothed) and validation loss against step.</summary>
public static class LossPlot
{
    public static void Save(
        string path,
        IReadOnlyList<MetricRecord> records,
        string title,
        double? referenceLine = null,
        string? referenceLabel = null
    )
    {
        var plt = new ScottPlot.Plot();
        var train = records.Where(r => r.Split == "train" && r.Values.ContainsKey("loss")).OrderBy(r => r.Step).ToList();
        var val = records.Where(r => r.Split == "val" && r.Values.ContainsKey("loss")).OrderBy(r => r.Step).ToList();
        if (train.Count > 0)
        {
            double[] xs = train.Select(r => (double)r.Step).ToArray(),
                ys = train.Select(r => r.Values["loss"]).ToArray();
            var raw = plt.Add.Scatter(xs, ys);
            raw.LineWidth = 1;
            raw.MarkerSize = 0;
            raw.Color = ScottPlot.Colors.Blue.WithAlpha(0.25);
            raw.LegendText = "train (per step)";
            var smooth = plt.Add.Scatter(xs, Ema(ys, 0.95));
            smooth.LineWidth = 2;
            smooth.MarkerSize = 0;
            smooth.Color = ScottPlot.Colors.Blue;
            smooth.LegendText = "train (EMA 0.95)";
        }
        if (val.Count > 0)
        {
            var v = plt.Add.Scatter(val.Select(r => (double)r.Step).ToArray(), val.Select(r => r.Values["loss"]).ToArray());
            v.LineWidth = 2;
            v.MarkerSize = 6;
            v.Color = ScottPlot.Colors.OrangeRed;
            v.LegendText = "validation";
        }
        if (referenceLine is { } y)
        {
            var h = plt.Add.HorizontalLine(y);
            h.LineWidth = 1;
            h.Color = ScottPlot.Colors.Gray;
            h.LinePattern = ScottPlot.LinePattern.Dashed;
            h.LegendText = referenceLabel ?? "";
        }
        plt.Title(title);
        plt.XLabel("optimizer step");
        plt.YLabel("cross-entropy (nats/token)");
        plt.ShowLegend(ScottPlot.Alignment.UpperRight);
        PngFile.Save(plt, path, 900, 540);
    }

    static double[] Ema(double[] ys, double beta)
    {
        var result = new double[ys.Length];
        double m = 0;
        for (int i = 0; i < ys.Length; i++)
        {
            m = beta * m + (1 - beta) * ys[i];
            result[i] = m / (1 - Math.Pow(beta, i + 1)); // bias-corrected
        }
        return result;
    }
}
