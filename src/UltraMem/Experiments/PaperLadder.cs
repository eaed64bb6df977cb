namespace UltraMem.Experiments;

/// <summary>The UltraMem paper's ablation ladder (arXiv:2411.12364, Table 2), for the ladder report.</summary>
public static class PaperLadder
{
    public const string Source =
        "UltraMem paper (\"Ultra-Sparse Memory Network\", arXiv 2411.12364, ICLR 2025), Table 2: C4 validation loss of a "
        + "151M-activated / ~1.5B-total model, as reported in the UltraMem paper's Table 2 (arXiv:2411.12364)";

    /// <summary>The paper's validation loss after each rung (cumulative changes, in ladder order).</summary>
    public static readonly IReadOnlyDictionary<string, double> ValLoss = new Dictionary<string, double>
    {
        ["pkm"] = 2.828,
        ["pkm+rm_softmax"] = 2.822,
        ["pkm+half_vdim"] = 2.800,
        ["pkm+share_query"] = 2.803,
        ["pkm+split"] = 2.788,
        ["pkm+qk_norm"] = 2.789,
        ["pkm+ive"] = 2.772,
        ["pkm+tdqkr"] = 2.764,
        ["pkm+mcs"] = 2.761,
        ["pkm+init"] = 2.758,
        ["ultramem"] = 2.736,
        ["ultramem+query_conv"] = 2.736,
    };
}
