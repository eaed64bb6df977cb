namespace UltraMem.Reporting;

/// <summary>Line plots on log–log axes (ScottPlot): the data are plotted as log10 and the ticks labelled with the real values.</summary>
public static class LogLogPlot
{
    public sealed record Series(string Label, double[] Xs, double[] Ys);

    static readonly ScottPlot.Color[] Palette =
    {
        ScottPlot.Colors.Gray,
        ScottPlot.Colors.OrangeRed,
        ScottPlot.Colors.SteelBlue,
        ScottPlot.Colors.SeaGreen,
        ScottPlot.Colors.DarkViolet,
        ScottPlot.Colors.DarkOrange,
        ScottPlot.Colors.Brown,
        ScottPlot.Colors.Black,
    };

    /// <param name="xTicks">Tick positions on the x axis (real values), labelled as given.</param>
    /// <param name="logY">False: linear y axis.</param>
    public static void Save(
        string path,
        string title,
        string xLabel,
        string yLabel,
        IReadOnlyList<Series> series,
        double[] xTicks,
        bool logY = true,
        Func<double, string>? xTickLabel = null
    )
    {
        var plt = new ScottPlot.Plot();
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var ok = Enumerable
                .Range(0, s.Xs.Length)
                .Where(j => s.Xs[j] > 0 && (!logY || s.Ys[j] > 0) && double.IsFinite(s.Ys[j]))
                .ToArray();
            if (ok.Length == 0)
                continue;
            var line = plt.Add.Scatter(
                ok.Select(j => Math.Log10(s.Xs[j])).ToArray(),
                ok.Select(j => logY ? Math.Log10(s.Ys[j]) : s.Ys[j]).ToArray()
            );
            line.LegendText = s.Label;
            line.Color = Palette[i % Palette.Length];
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plt.Axes.Bottom.SetTicks(
            xTicks.Select(Math.Log10).ToArray(),
            xTicks.Select(x => xTickLabel?.Invoke(x) ?? x.ToString("G4")).ToArray()
        );
        if (logY)
        {
            var all = series.SelectMany(s => s.Ys).Where(y => y > 0 && double.IsFinite(y)).ToArray();
            if (all.Length > 0)
            {
                int lo = (int)Math.Floor(Math.Log10(all.Min())),
                    hi = (int)Math.Ceiling(Math.Log10(all.Max()));
                var ticks = new List<double>();
                for (int e = lo; e <= hi; e++)
                    foreach (double m in new[] { 1.0, 2.0, 5.0 })
                        ticks.Add(m * Math.Pow(10, e));
                plt.Axes.Left.SetTicks(
                    ticks.Select(Math.Log10).ToArray(),
                    ticks.Select(t => t.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)).ToArray()
                );
            }
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.ShowLegend(ScottPlot.Alignment.UpperLeft);
        PngFile.Save(plt, path, 900, 560);
    }
}
