namespace UltraMem.Experiments;

/// <summary>The outcome of <see cref="Comparison.Run"/>: how many runs were trained, skipped (already recorded), and the reports.</summary>
public sealed record CompareOutcome(bool Interrupted, int Trained, int Skipped, int Planned, ComparisonReport Report);
