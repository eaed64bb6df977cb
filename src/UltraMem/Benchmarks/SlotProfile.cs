namespace UltraMem.Benchmarks;

/// <summary>
/// Where a decode step's time goes: the feed-forward slots (FFNs, MoE, memory layers) timed alone on the same batch, against
/// the two floors they cannot beat on this machine — their FLOPs at the measured matmul rate and their parameter bytes at the
/// measured read bandwidth. What is above both floors is overhead: op dispatch, small matmuls, gathers and scatters.
/// </summary>
public sealed record SlotProfile(
    string Variant,
    int Batch,
    double StepMs,
    double SlotsMs,
    double FlopsFloorMs,
    double TrafficFloorMs,
    int SlotCount
);
