using TorchSharp.Modules;

namespace UltraMem.Training;

/// <summary>
/// A rule assigning parameters to a named group by their state-dict name. Rules are tried in order;
/// the first match wins. Layers with special optimisation needs (value tables) add rules in front.
/// </summary>
public sealed record GroupRule(
    string Group,
    Func<string, Parameter, bool> Matches,
    double WeightDecay,
    Func<long, double>? Multiplier = null,
    double? FixedLearningRate = null
);
