using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Training;

public static class ParameterGroups
{
    /// <summary>
    /// Default grouping: <c>no_decay</c> for norms and biases (1-D parameters), <c>decay</c> for the rest
    /// (weight decay <paramref name="weightDecay"/>), after any <paramref name="extraRules"/>.
    /// </summary>
    public static List<ParameterGroup> Build(nn.Module model, double weightDecay, IEnumerable<GroupRule>? extraRules = null)
    {
        var rules = (extraRules ?? Enumerable.Empty<GroupRule>()).ToList();
        rules.Add(new GroupRule("no_decay", (name, p) => p.dim() < 2 || name.EndsWith(".bias") || name.Contains("norm"), 0.0));
        rules.Add(new GroupRule("decay", (_, _) => true, weightDecay));
        var members = rules.ToDictionary(r => r.Group, _ => new List<(string, Parameter)>());
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad)
                continue;
            members[rules.First(r => r.Matches(name, p)).Group].Add((name, p));
        }
        return rules
            .Where(r => members[r.Group].Count > 0)
            .Select(r => new ParameterGroup
            {
                Name = r.Group,
                Parameters = members[r.Group],
                WeightDecay = r.WeightDecay,
                LearningRateMultiplier = r.Multiplier ?? (_ => 1.0),
                FixedLearningRate = r.FixedLearningRate,
            })
            .ToList();
    }

    /// <summary>
    /// Groups for a language model: one group per value-table group of the model (<c>memory_layers.J.values</c>, or
    /// <c>shared_memory.values</c> for a shared table; normal weight decay, lr multiplier κ → 1 linearly over the decay steps
    /// or the whole run, or a fixed lr), then the defaults.
    /// </summary>
    public static List<ParameterGroup> ForModel(Model.TransformerLM model, double weightDecay, long maxSteps)
    {
        var rules = model
            .ValueGroups()
            .Select(v =>
            {
                var names = v.Parameters.ToHashSet();
                return new GroupRule(
                    v.Name,
                    (name, _) => names.Contains(name),
                    weightDecay,
                    ValueLearningRate.LinearDecay(v.Group.Kappa, v.Group.DecaySteps ?? maxSteps),
                    v.Group.FixedLearningRate
                );
            });
        return Build(model, weightDecay, rules);
    }
}
