namespace UltraMem.Layers.Moe; // not ".MixtureOfExperts": a namespace named like its class shadows the class

/// <summary>
/// Settings of a top-k mixture-of-experts layer ("top-k in N", e.g. the UltraMem paper's 2in32; docs/moe.md): N SwiGLU experts,
/// a learned router, top-k with renormalised gates, Switch/GShard load balancing, optional ST-MoE router z-loss.
/// Serialises with snake_case names inside a model config's <c>memory_layers[i].moe</c>.
/// </summary>
public sealed record MoeConfig
{
    /// <summary>N: number of experts.</summary>
    public int Experts { get; init; } = 8;

    /// <summary>k: experts each token is routed to.</summary>
    public int TopK { get; init; } = 2;

    /// <summary>SwiGLU inner width of each expert; null = the model's FFN width / top_k (activated FFN compute = the dense
    /// FFN's).</summary>
    public int? ExpertHidden { get; init; }

    /// <summary>Renormalise the top-k router probabilities to sum to 1 (Mixtral); false = gates are the raw softmax
    /// probabilities.</summary>
    public bool NormalizeGates { get; init; } = true;

    /// <summary>α of the load-balancing loss α·N·Σ_e f_e·P_e (Switch Transformer / GShard); 0 = off.</summary>
    public double BalanceLoss { get; init; } = 0.01;

    /// <summary>β of the router z-loss β·mean_t(logsumexp(logits_t)²) (ST-MoE); 0 = off.</summary>
    public double ZLoss { get; init; }

    /// <summary>The expert width for a model whose dense FFN is <paramref name="ffnHidden"/> wide.</summary>
    public int ExpertHiddenResolved(int ffnHidden) => ExpertHidden ?? Math.Max(1, ffnHidden / TopK);

    /// <summary>Throws <see cref="UltraMemException"/> naming the first impossible setting.</summary>
    public MoeConfig Validate(int dModel, string where = "moe")
    {
        void Check(bool ok, string what)
        {
            if (!ok)
                throw new UltraMemException($"invalid {where}: {what}");
        }
        Check(dModel >= 1, $"d_model must be positive (got {dModel})");
        Check(Experts >= 1, $"experts must be >= 1 (got {Experts})");
        Check(TopK >= 1, $"top_k must be >= 1 (got {TopK})");
        Check(TopK <= Experts, $"top_k ({TopK}) must be <= experts ({Experts})");
        Check(Experts <= 1 << 16, $"experts must be at most {1 << 16} (got {Experts})");
        Check(ExpertHidden is null || ExpertHidden <= 1 << 22, $"expert_hidden must be at most {1 << 22} (got {ExpertHidden})");
        Check(ExpertHidden is null || ExpertHidden >= 1, $"expert_hidden must be positive (got {ExpertHidden})");
        Check(BalanceLoss >= 0 && double.IsFinite(BalanceLoss), $"balance_loss must be a finite number >= 0 (got {BalanceLoss})");
        Check(ZLoss >= 0 && double.IsFinite(ZLoss), $"z_loss must be a finite number >= 0 (got {ZLoss})");
        return this;
    }
}
