using TorchSharp.Modules;
using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter) with the exact update of <c>torch.optim.AdamW</c>:
/// p ← p·(1 − lr·λ); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε).
/// Written here (not TorchSharp's) so that parameter groups are addressed by name, their learning rates can
/// change every step, and the moments are plain named tensors that checkpoints store in safetensors.
/// <para>
/// Row-sparse ("lazy") tables: a parameter registered through <c>rowSparse</c> whose <see cref="RowSparseGradient.Enabled"/>
/// is set has no dense gradient; its coalesced gradient (distinct rows R, summed rows g_R) is applied to those rows only,
/// like <c>torch.optim.SparseAdam</c> but with AdamW's decoupled weight decay:
/// m_R ← β1·m_R + (1−β1)·g_R; v_R ← β2·v_R + (1−β2)·g_R²; p_R ← p_R·(1 − lr·λ);
/// p_R ← p_R − lr/(1−β1^t) · m_R / (sqrt(v_R)/sqrt(1−β2^t) + ε), with t the global step count.
/// Rows outside R — parameter and both moments — are left bit-for-bit unchanged (no moment decay, no weight decay),
/// so a step costs O(|R|·Dv) instead of O(N·Dv). When every row is in R every step this equals dense AdamW.
/// </para>
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

    readonly Dictionary<string, RowSparseGradient> _rowSparse = new(StringComparer.Ordinal);

    /// <param name="groups">Parameter groups; every parameter in exactly one.</param>
    /// <param name="rowSparse">
    /// Tables that may be trained row-sparsely, keyed by their state-dict name (e.g. <c>TransformerLM.RowSparseTables()</c>).
    /// Each must also be a member of one of <paramref name="groups"/> (its lr multiplier and weight decay apply).
    /// Whether a table takes the lazy path is read from <see cref="RowSparseGradient.Enabled"/> at every step.
    /// </param>
    public AdamW(
        IReadOnlyList<ParameterGroup> groups,
        double beta1 = 0.9,
        double beta2 = 0.95,
        double eps = 1e-8,
        IEnumerable<(string Name, RowSparseGradient Gradient)>? rowSparse = null
    )
    {
        Groups = groups;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        var members = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        foreach (var g in groups)
        foreach (var (name, p) in g.Parameters)
            if (!members.TryAdd(name, p))
                throw new ArgumentException($"parameter {name} is in two groups");
        foreach (var (name, rs) in rowSparse ?? Enumerable.Empty<(string, RowSparseGradient)>())
        {
            if (!members.TryGetValue(name, out var p))
                throw new UltraMemException($"row-sparse table {name} is not in any optimizer parameter group");
            if (!p.shape.SequenceEqual(rs.Table.shape) || p.dtype != rs.Table.dtype)
                throw new UltraMemException(
                    $"row-sparse table {name} is [{string.Join(", ", rs.Table.shape)}] {rs.Table.dtype}, "
                        + $"but the group parameter of that name is [{string.Join(", ", p.shape)}] {p.dtype}"
                );
            if (p.dim() < 1)
                throw new UltraMemException($"row-sparse table {name} must have at least one dimension (rows)");
            if (!_rowSparse.TryAdd(name, rs))
                throw new UltraMemException($"row-sparse table {name} is given twice");
        }
    }

    /// <summary>The registered row-sparse tables by parameter name.</summary>
    public IReadOnlyDictionary<string, RowSparseGradient> RowSparse => _rowSparse;

    /// <summary>One update with base learning rate <paramref name="lr"/>, scaled per group by its multiplier at the current step.</summary>
    public void Step(double lr)
    {
        // contract checks first, so a violation leaves every parameter untouched
        foreach (var (name, rs) in _rowSparse)
        {
            using var denseGrad = rs.Enabled ? rs.Table.grad : null; // a handle to check, disposed here
            if (denseGrad is not null)
                throw new UltraMemException(
                    $"{name} is trained row-sparsely (value_updates row_sparse) but also has a dense gradient; "
                        + "while enabled, the layer must read it only through RowSparseGradient.Gather"
                );
            if (!rs.Enabled && rs.HasPending)
                throw new UltraMemException(
                    $"{name} has gathered row-sparse rows but row-sparse updates are not enabled for it; " + "their gradients would be lost"
                );
        }
        using var _ = no_grad();
        long t = ++StepCount;
        double bc1 = 1 - Math.Pow(Beta1, t),
            bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, t));
        foreach (var g in Groups)
        {
            double glr = g.FixedLearningRate ?? lr * g.LearningRateMultiplier(t - 1);
            g.CurrentLearningRate = glr;
            foreach (var (name, p) in g.Parameters)
            {
                if (_rowSparse.TryGetValue(name, out var rs) && rs.Enabled)
                {
                    if (rs.Coalesce() is { } c)
                        SparseStep(name, p, c.Rows, c.Grad, glr, g.WeightDecay, bc1, bc2Sqrt);
                    continue; // enabled but no rows this step: nothing to do (lazy)
                }
                var grad = p.grad;
                if (grad is null)
                    continue;
                var s = StateFor(name, p);
                Update(p, s.ExpAvg, s.ExpAvgSq, grad, glr, g.WeightDecay, bc1, bc2Sqrt);
            }
        }
    }

    /// <summary>
    /// The lazy update of one row-sparse table: rows <paramref name="rows"/> (Int64 [U], distinct) with summed gradient
    /// <paramref name="grad"/> [U, ...]. Reads and writes only those rows of p, m and v (index_select → update → index_copy_),
    /// so its temporaries are O(U·Dv); the update of each selected row is elementwise identical to the dense one.
    /// </summary>
    void SparseStep(string name, Parameter p, Tensor rows, Tensor grad, double glr, double weightDecay, double bc1, double bc2Sqrt)
    {
        if (grad.shape[0] != rows.shape[0] || !grad.shape.Skip(1).SequenceEqual(p.shape.Skip(1)))
            throw new UltraMemException(
                $"row-sparse gradient of {name} is [{string.Join(", ", grad.shape)}] for {rows.shape[0]} rows; table is [{string.Join(", ", p.shape)}]"
            );
        var s = StateFor(name, p); // full size even here: checkpoints store them like dense moments
        using var scope = NewDisposeScope();
        var m = s.ExpAvg.index_select(0, rows);
        var v = s.ExpAvgSq.index_select(0, rows);
        var pr = p.index_select(0, rows);
        Update(pr, m, v, grad, glr, weightDecay, bc1, bc2Sqrt);
        s.ExpAvg.index_copy_(0, rows, m);
        s.ExpAvgSq.index_copy_(0, rows, v);
        p.index_copy_(0, rows, pr);
    }

    /// <summary>The moments of <paramref name="name"/>, allocated (zeros, full size) on first use; they outlive any caller's dispose
    /// scope.</summary>
    (Tensor ExpAvg, Tensor ExpAvgSq) StateFor(string name, Parameter p)
    {
        if (!_state.TryGetValue(name, out var s))
            _state[name] = s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
        return s;
    }

    /// <summary>
    /// The AdamW update in place, on whole tensors (dense path) or on gathered rows (row-sparse path): one pass over memory
    /// (<see cref="FusedAdamWKernel"/>) for contiguous float32 CPU tensors, the op chain <see cref="ReferenceUpdate"/> otherwise.
    /// </summary>
    void Update(Tensor p, Tensor m, Tensor v, Tensor grad, double glr, double weightDecay, double bc1, double bc2Sqrt)
    {
        if (FusedAdamWKernel.Applies(p, m, v, grad))
            FusedAdamWKernel.Update(p, m, v, grad, glr, weightDecay, Beta1, Beta2, Eps, bc1, bc2Sqrt);
        else
            ReferenceUpdate(p, m, v, grad, glr, weightDecay, Beta1, Beta2, Eps, bc1, bc2Sqrt);
    }

    /// <summary>
    /// The update as torch's AdamW writes it, one op per term (the oracle of <see cref="FusedAdamWKernel"/>; ~8 passes over
    /// memory and a full-size temporary):
    /// p ← p·(1 − lr·λ); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
    /// </summary>
    internal static void ReferenceUpdate(
        Tensor p,
        Tensor m,
        Tensor v,
        Tensor grad,
        double glr,
        double weightDecay,
        double beta1,
        double beta2,
        double eps,
        double bc1,
        double bc2Sqrt
    )
    {
        if (weightDecay != 0)
            p.mul_(1 - glr * weightDecay);
        m.lerp_(grad, 1 - beta1);
        v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
        using var denom = v.sqrt();
        denom.div_(bc2Sqrt).add_(eps);
        p.addcdiv_(m, denom, -glr / bc1);
    }

    /// <summary>Zeroes dense gradients and drops every row-sparse table's gathered rows (<see cref="RowSparseGradient.Clear"/>).</summary>
    public void ZeroGrad()
    {
        foreach (var g in Groups)
        foreach (var (_, p) in g.Parameters)
            if (p.grad is { } grad)
            {
                grad.zero_();
            }
        foreach (var rs in _rowSparse.Values)
            rs.Clear();
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
            string name =
                key.StartsWith("exp_avg_sq.") ? key["exp_avg_sq.".Length..]
                : key.StartsWith("exp_avg.") ? key["exp_avg.".Length..]
                : "";
            if (!byName.ContainsKey(name))
                throw new UltraMemException($"{source}: optimizer state '{key}' matches no model parameter");
        }
        foreach (var s in _state.Values)
        {
            s.ExpAvg.Dispose();
            s.ExpAvgSq.Dispose();
        }
        _state.Clear();
        foreach (var (name, p) in byName)
        {
            bool hasAvg = tensors.TryGetValue($"exp_avg.{name}", out var m),
                hasSq = tensors.TryGetValue($"exp_avg_sq.{name}", out var v);
            if (hasAvg != hasSq)
                throw new UltraMemException($"{source}: optimizer state for {name} is incomplete");
            if (!hasAvg)
                continue;
            foreach (var x in new[] { m!, v! })
                if (!x.shape.SequenceEqual(p.shape) || x.dtype != p.dtype)
                    throw new UltraMemException(
                        $"{source}: optimizer state for {name} has shape [{string.Join(", ", x.shape)}] {x.dtype}, parameter is [{string.Join(", ", p.shape)}] {p.dtype}"
                    );
            _state[name] = (m!.clone().DetachFromDisposeScope(), v!.clone().DetachFromDisposeScope());
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var s in _state.Values)
        {
            s.ExpAvg.Dispose();
            s.ExpAvgSq.Dispose();
        }
        _state.Clear();
    }
}
