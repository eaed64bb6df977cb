namespace UltraMem.Inference;

/// <summary>Sampling settings: temperature 0 is greedy; top-k 0 and top-p 1 disable those filters.</summary>
public sealed record SamplingOptions(double Temperature = 0.8, int TopK = 50, double TopP = 0.95, int Seed = 0)
{
    public SamplingOptions Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new UltraMemException($"temperature must be >= 0 (got {Temperature})");
        if (TopK < 0)
            throw new UltraMemException($"top-k must be >= 0 (got {TopK})");
        if (!(TopP > 0 && TopP <= 1))
            throw new UltraMemException($"top-p must be in (0, 1] (got {TopP})");
        return this;
    }
}
