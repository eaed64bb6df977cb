namespace UltraMem.Layers.Memory;

/// <summary>
/// A value table's own optimizer group: a learning-rate multiplier κ at step 0 decaying linearly to 1 over <paramref name="DecaySteps"/>
/// (null: the whole run) on top of the schedule — UltraMem's value learning-rate decay (arXiv:2411.12364; docs/memory-layers.md;
/// κ = 1 is off) — or a constant <paramref name="FixedLearningRate"/> outside the schedule (Memory+, arXiv:2412.09764).
/// </summary>
public sealed record ValueGroup(double Kappa, long? DecaySteps, double? FixedLearningRate = null);
