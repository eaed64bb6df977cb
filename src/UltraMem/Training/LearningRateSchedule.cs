namespace UltraMem.Training;

/// <summary>Linear warmup to the peak, then cosine decay to <c>MinRatio</c> × peak at the last step.</summary>
public sealed record LearningRateSchedule(double Peak, long WarmupSteps, long TotalSteps, double MinRatio = 0.1)
{
    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        double span = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((step - WarmupSteps) / span, 0, 1);
        double min = Peak * MinRatio;
        return min + 0.5 * (Peak - min) * (1 + Math.Cos(Math.PI * progress));
    }
}

/// <summary>
/// UltraMem's value learning-rate multiplier (UltraMem, arXiv:2411.12364; docs/memory-layers.md, "Value learning-rate decay"): mult(step) = 1 + (κ − 1)·max(0, 1 − step/T),
/// applied on top of the base schedule to the value-table group.
/// </summary>
public static class ValueLearningRate
{
    public static Func<long, double> LinearDecay(double kappa, long decaySteps) =>
        step => 1 + (kappa - 1) * Math.Max(0, 1 - (double)step / Math.Max(1, decaySteps));
}
