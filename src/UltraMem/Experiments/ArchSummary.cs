using UltraMem.Reporting;

namespace UltraMem.Experiments;

/// <summary>Validation-loss statistics of one architecture over its seeds.</summary>
public sealed record ArchSummary(string Arch, IReadOnlyList<RunRecord> Runs)
{
    /// <summary>Seeds with a result (failed runs, e.g. diverged ones, are left out of the statistics and listed in the notes).</summary>
    public int N => Losses.Count;
    public IReadOnlyList<double> Losses =>
        Runs.Where(r => r.Error is null && double.IsFinite(r.FinalValLoss)).Select(r => r.FinalValLoss).ToList();
    public double Mean => Stats.Mean(Losses.ToList());

    /// <summary>Sample standard deviation over seeds (n − 1); NaN for one seed.</summary>
    public double Std => Stats.SampleStd(Losses.ToList());
    public double Min => Losses.Count > 0 ? Losses.Min() : double.NaN;
    public double Max => Losses.Count > 0 ? Losses.Max() : double.NaN;
    public double TokensPerSecond => Stats.Mean(Runs.Select(r => r.TrainTokensPerS).Where(double.IsFinite).ToList());
    public RunRecord First => Runs[0];
}
