using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Training;

/// <summary>
/// A named set of parameters sharing weight decay and a per-step learning-rate multiplier
/// (e.g. UltraMem's value-learning-rate decay: κ → 1 on top of the base schedule).
/// </summary>
public sealed class ParameterGroup
{
    public required string Name { get; init; }
    public required IReadOnlyList<(string Name, Parameter Param)> Parameters { get; init; }
    public double WeightDecay { get; init; }
    /// <summary>Multiplier on the base learning rate at a given step (0-based). Default 1.</summary>
    public Func<long, double> LearningRateMultiplier { get; init; } = _ => 1.0;
    /// <summary>The learning rate used by the last <see cref="AdamW.Step"/>.</summary>
    public double CurrentLearningRate { get; internal set; }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter) with the exact update of <c>torch.optim.AdamW</c>:
/// p ← p·(1 − lr·λ); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε).
/// Written here (not TorchSharp's) so that parameter groups are addressed by name, their learning rates can
/// change every step, and the moments are plain named tensors that checkpoints store in safetensors.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = new();

    public IReadOnlyList<ParameterGroup> Groups { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    /// <summary>Updates done so far (t in the bias corrections).</summary>
    public long StepCount { get; private set; }

    public AdamW(IReadOnlyList<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8)
    {
        Groups = groups; Beta1 = beta1; Beta2 = beta2; Eps = eps;
        var seen = new HashSet<string>();
        foreach (var g in groups)
            foreach (var (name, _) in g.Parameters)
                if (!seen.Add(name)) throw new ArgumentException($"parameter {name} is in two groups");
    }

    /// <summary>One update with base learning rate <paramref name="lr"/>, scaled per group by its multiplier at the current step.</summary>
    public void Step(double lr)
    {
        using var _ = no_grad();
        long t = ++StepCount;
        double bc1 = 1 - Math.Pow(Beta1, t), bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, t));
        foreach (var g in Groups)
        {
            double glr = lr * g.LearningRateMultiplier(t - 1);
            g.CurrentLearningRate = glr;
            foreach (var (name, p) in g.Parameters)
            {
                var grad = p.grad;
                if (grad is null) continue;
                if (!_state.TryGetValue(name, out var s))
                    _state[name] = s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());   // outlive any caller's dispose scope
                if (g.WeightDecay != 0) p.mul_(1 - glr * g.WeightDecay);
                s.ExpAvg.lerp_(grad, 1 - Beta1);
                s.ExpAvgSq.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);
                using var denom = s.ExpAvgSq.sqrt();
                denom.div_(bc2Sqrt).add_(Eps);
                p.addcdiv_(s.ExpAvg, denom, -glr / bc1);
            }
        }
    }

    public void ZeroGrad()
    {
        foreach (var g in Groups)
            foreach (var (_, p) in g.Parameters)
                if (p.grad is { } grad) { grad.zero_(); }
    }

    /// <summary>The moments as named tensors (<c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c>), for checkpoints.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var (name, s) in _state.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            yield return new($"exp_avg.{name}", s.ExpAvg);
            yield return new($"exp_avg_sq.{name}", s.ExpAvgSq);
        }
    }

    /// <summary>Restores moments and the step count saved by <see cref="StateTensors"/>; checks names and shapes.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> tensors, long stepCount, string source)
    {
        var byName = Groups.SelectMany(g => g.Parameters).ToDictionary(p => p.Name, p => p.Param);
        foreach (var key in tensors.Keys)
        {
            string name = key.StartsWith("exp_avg_sq.") ? key["exp_avg_sq.".Length..] : key.StartsWith("exp_avg.") ? key["exp_avg.".Length..] : "";
            if (!byName.ContainsKey(name)) throw new UltraMemException($"{source}: optimizer state '{key}' matches no model parameter");
        }
        foreach (var s in _state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        _state.Clear();
        foreach (var (name, p) in byName)
        {
            bool hasAvg = tensors.TryGetValue($"exp_avg.{name}", out var m), hasSq = tensors.TryGetValue($"exp_avg_sq.{name}", out var v);
            if (hasAvg != hasSq) throw new UltraMemException($"{source}: optimizer state for {name} is incomplete");
            if (!hasAvg) continue;
            foreach (var x in new[] { m!, v! })
                if (!x.shape.SequenceEqual(p.shape) || x.dtype != p.dtype)
                    throw new UltraMemException($"{source}: optimizer state for {name} has shape [{string.Join(", ", x.shape)}] {x.dtype}, parameter is [{string.Join(", ", p.shape)}] {p.dtype}");
            _state[name] = (m!.clone().DetachFromDisposeScope(), v!.clone().DetachFromDisposeScope());
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var s in _state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        _state.Clear();
    }
}
