namespace UltraMem.Reporting;

/// <summary>One logged measurement: a step, a split (<c>train</c> / <c>val</c>; <c>mem_train</c> / <c>mem_val</c> for memory-layer
/// diagnostics) and named values.</summary>
public sealed record MetricRecord(long Step, string Split, IReadOnlyDictionary<string, double> Values);
