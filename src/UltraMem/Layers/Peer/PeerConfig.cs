using System.Text.Json.Serialization;
using UltraMem.IO;
using UltraMem.Layers.Memory;

namespace UltraMem.Layers.Peer;

/// <summary>
/// Settings of a PEER layer (He 2024, "Mixture of A Million Experts", arXiv:2407.04153; docs/peer.md): N = n² single-neuron experts
/// e_i(x) = σ(u_iᵀx)·v_i, retrieved per head by product keys. Serialises with snake_case names inside a model
/// config's <c>memory_layers[i].peer</c>.
/// The paper's layer has N = 1024² experts, 8 heads × top-16 and a BatchNorm query. The defaults here are sized for
/// small models: 4 heads × top-16 (64 experts per token), n = 128 (N = 16,384) and a LayerNorm query (causal;
/// BatchNorm mixes the tokens of a batch). <see cref="DefaultFor"/> sizes n from the model instead.
/// </summary>
public sealed record PeerConfig
{
    /// <summary>n: keys per side; the layer has N = n² experts.</summary>
    public int NKeys { get; init; } = 128;

    /// <summary>h: retrieval heads, each with its own query and top-k (the paper: 8).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>k: experts selected per head and token (the paper: 16).</summary>
    public int TopK { get; init; } = 16;

    /// <summary>Dk: query width per head (split in a row half and a column half).</summary>
    public int KeyDim { get; init; } = 64;

    /// <summary>σ of the expert neuron: <c>gelu</c> (PEER), <c>relu</c>, <c>silu</c>, <c>none</c> (linear experts).</summary>
    public PeerActivation Activation { get; init; } = PeerActivation.Gelu;

    /// <summary>How the router scores s_i weight the experts: <c>softmax</c> over each head's top-k (PEER), <c>relu</c>, <c>sigmoid</c>,
    /// <c>none</c> (raw scores).</summary>
    public PeerGate Gate { get; init; } = PeerGate.Softmax;

    /// <summary>Norm on the projected query: <c>layernorm</c> (causal, default), <c>batchnorm</c> (the paper's; not causal),
    /// <c>none</c>.</summary>
    public QueryNorm QueryNorm { get; init; } = QueryNorm.LayerNorm;

    /// <summary>Query/key norm: LayerNorm over each Dk/2 half of the queries and over the keys.</summary>
    public bool QkNorm { get; init; }

    /// <summary>N = n²: experts (rows of each of the two tables).</summary>
    [JsonIgnore]
    public long Experts => (long)NKeys * NKeys;

    /// <summary>The retrieval part as a <see cref="MemoryConfig"/>, for the shared <see cref="QueryNetwork"/> and <see
    /// cref="ProductKeys"/>.</summary>
    public MemoryConfig ToRetrieval() =>
        new()
        {
            NKeys = NKeys,
            Heads = Heads,
            TopM = TopK,
            KeyDim = KeyDim,
            QueryNorm = QueryNorm,
            QkNorm = QkNorm,
            Retrieval = Retrieval.ProductKeys,
        };

    /// <summary>Throws <see cref="UltraMemException"/> naming the first impossible setting.</summary>
    public PeerConfig Validate(int dModel, string where = "peer")
    {
        void Check(bool ok, string what)
        {
            if (!ok)
                throw new UltraMemException($"invalid {where}: {what}");
        }
        Check(dModel >= 1, $"d_model must be positive (got {dModel})");
        Check(NKeys >= 2, $"n_keys must be >= 2 (got {NKeys})");
        Check(Heads >= 1 && Heads <= 1 << 12, $"heads must be in [1, {1 << 12}] (got {Heads})");
        Check(TopK >= 1, $"top_k must be >= 1 (got {TopK})");
        Check(TopK <= NKeys, $"product-key retrieval takes top_k per key side, so top_k ({TopK}) must be <= n_keys ({NKeys})");
        Check(KeyDim >= 2 && KeyDim % 2 == 0, $"key_dim must be even and >= 2 (got {KeyDim}); it is split into a row and a column half");
        Check(KeyDim <= 1 << 16, $"key_dim must be at most 65536 (got {KeyDim})");
        Check(JsonEnum.IsDefined(Activation), JsonEnum.Expected(typeof(PeerActivation), Activation.ToString()));
        Check(JsonEnum.IsDefined(Gate), JsonEnum.Expected(typeof(PeerGate), Gate.ToString()));
        Check(JsonEnum.IsDefined(QueryNorm), JsonEnum.Expected(typeof(QueryNorm), QueryNorm.ToString()));
        Check(Experts < int.MaxValue, $"n_keys² must stay below 2^31 (got {Experts})");
        return this;
    }

    /// <summary>
    /// Settings when a <c>peer</c> placement has no <c>peer</c> block: like the PKM default, the expert tables (2·N·D
    /// parameters) hold ≈ <see cref="MemoryRecipes.SparseMultiple"/>× the backbone's dense non-embedding parameters;
    /// h = 4, k = 16, Dk = min(256, D/2).
    /// </summary>
    public static PeerConfig DefaultFor(SlotContext model)
    {
        int d = model.DModel;
        long dense = model.DenseParameters;
        int n = Math.Max(16, (int)Math.Round(Math.Sqrt(MemoryRecipes.SparseMultiple * dense / (2.0 * d))));
        return new PeerConfig { NKeys = n, KeyDim = Math.Max(2, Math.Min(256, d / 2 / 2 * 2)) };
    }
}
