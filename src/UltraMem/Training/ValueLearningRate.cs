namespace UltraMem.Training;

/// <summary>
/// UltraMem's value learning-rate multiplier (UltraMem, arXiv:2411.12364; docs/memory-layers.md, "Value learning-rate decay"): mult(step) =
/// 1 + (κ − 1)·max(0, 1 − step/T),
/// applied on top of the base schedule to the value-table group.
/// </summary>
public static class ValueLearningRate
{
    public static Func<long, double> LinearDecay(double kappa, long decaySteps) =>
        step => 1 + (kappa - 1) * Math.Max(0, 1 - (double)step / Math.Max(1, decaySteps));
}
