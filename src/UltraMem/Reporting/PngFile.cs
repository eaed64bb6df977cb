namespace UltraMem.Reporting;

/// <summary>Plots written as PNG files atomically (<see cref="IO.AtomicFile"/>): a reader sees the old image or the new one, never half of
/// one.</summary>
public static class PngFile
{
    public static void Save(ScottPlot.Plot plot, string path, int width, int height)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        IO.AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png));
    }

    public static void Save(ScottPlot.Multiplot plots, string path, int width, int height)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var image = ScottPlot.IMultiplotExtensions.Render(plots, width, height);
        IO.AtomicFile.WriteAllBytes(path, image.GetImageBytes(ScottPlot.ImageFormat.Png));
    }
}
