using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>
/// Every knob of a PKM / UltraMem memory layer (arXiv:1907.05242, arXiv:2411.12364; docs/memory-layers.md). Each rung of the paper's
/// ablation ladder is one of
/// these switches, so PKM and UltraMem are the same class with different settings (see <see cref="MemoryRecipes"/>).
/// Serialises with snake_case names inside a model config's <c>memory_layers[i].memory</c>.
/// </summary>
public sealed record MemoryConfig
{
    /// <summary>n: physical keys per side; the value table has N = n² rows.</summary>
    public int NKeys { get; init; } = 128;

    /// <summary>H: retrieval heads (each selects its own top-m).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>m: values selected per head and token.</summary>
    public int TopM { get; init; } = 16;

    /// <summary>Dk: query width per head (split in a row half and a column half).</summary>
    public int KeyDim { get; init; } = 64;

    /// <summary>Dv: value width; null = d_model. Dv ≠ D needs <see cref="ValueProjection"/>.</summary>
    public int? ValueDim { get; init; }

    /// <summary>Linear(E·Dv → D) after the pooled lookup ("half value dim + output projection"; always on with IVE).</summary>
    public bool ValueProjection { get; init; }

    /// <summary>Softmax over each head's top-m scores (PKM); false = the raw scores weight the values.</summary>
    public bool Softmax { get; init; } = true;

    /// <summary>Pairs of heads share one query (H/2 query projections).</summary>
    public bool ShareQuery { get; init; }

    /// <summary>Norm on the projected query (all heads): <c>layernorm</c> (causal), <c>batchnorm</c> (PKM's original; mixes tokens of a
    /// batch, so not causal), <c>none</c>.</summary>
    public QueryNorm QueryNorm { get; init; } = QueryNorm.LayerNorm;

    /// <summary>Query/key norm: LayerNorm over each Dk/2 half of the queries and over the keys.</summary>
    public bool QkNorm { get; init; }

    /// <summary><c>product_keys</c>: additive s_row + s_col (PKM). <c>tucker</c>: TDQKR, rank-r keys and Tucker core(s).</summary>
    public Retrieval Retrieval { get; init; } = Retrieval.ProductKeys;

    /// <summary>r: Tucker rank (TDQKR only).</summary>
    public int TuckerRank { get; init; } = 2;

    /// <summary>h: Tucker cores for multi-core scoring (MCS); each weights its own Dv/h chunk of the values.</summary>
    public int TuckerCores { get; init; } = 1;

    /// <summary>Rows and columns kept by TDQKR's coarse stage; null = top_m. The paper's cap (V2) is 128.</summary>
    public int? CoarseTop { get; init; }

    /// <summary>Which rows and columns the coarse stage keeps (<see cref="Memory.CoarseSearch"/>); omitted from JSON when it is
    /// the papers' <c>top</c>, so configs written before it existed keep their hash.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public CoarseSearch CoarseSearch { get; init; } = CoarseSearch.Top;

    /// <summary>Candidate rows (and columns) per head the fine stage scores exactly, out of <paramref name="keysPerSide"/>.</summary>
    public long CoarseCandidates(long keysPerSide) =>
        CoarseSearch switch
        {
            CoarseSearch.Top => Math.Min(CoarseTopResolved, keysPerSide),
            CoarseSearch.BothEnds => Math.Min(2L * CoarseTopResolved, keysPerSide),
            CoarseSearch.Exact => keysPerSide,
        };

    /// <summary>Tucker auxiliary loss α/(r−1)·Σ_{i≥2} max(0, λ_i − τ)² on the singular values of each core.</summary>
    public bool TuckerAuxLoss { get; init; }
    public double TuckerAuxTau { get; init; } = 0.15;
    public double TuckerAuxAlpha { get; init; } = 0.001;

    /// <summary>E: implicit value expansion factor (a perfect square: 1, 4, 9, 16). Key sets grow √E×; virtual table E·N rows.</summary>
    public int Expansion { get; init; } = 1;

    /// <summary>
    /// <c>pkm</c> (Lample et al. constants), <c>reference</c> (the authors' code constants), <c>paper</c> (UltraMem's init as
    /// printed), <c>paper_matched</c> (UltraMem's, values solved to match the FFN output variance), <c>v2</c> / <c>v2_paper</c>
    /// (UltraMemV2's); see <see cref="MemoryLayer.InitializeParameters"/>.
    /// </summary>
    public InitScheme Init { get; init; } = InitScheme.Pkm;

    /// <summary>κ: value lr multiplier at step 0, decaying linearly to 1 (1 = off; UltraMem uses 4).</summary>
    public double ValueLrMultiplier { get; init; } = 1.0;

    /// <summary>T of the value lr decay; null = the whole run.</summary>
    public long? ValueLrDecaySteps { get; init; }

    /// <summary>Causal depthwise convolution over the sequence before the query projection.</summary>
    public bool QueryConv { get; init; }
    public int QueryConvKernel { get; init; } = 3;

    // ── UltraMemV2 (arXiv:2508.18756) and Memory+ (arXiv:2412.09764) ──────────────────────────────────────────────
    /// <summary>TDQKR with a separate query per Tucker rank (V2): the query network emits r queries per head.</summary>
    public bool QueryPerRank { get; init; }

    /// <summary>
    /// V2's single projector: the E IVE groups are summed and one Linear(Dv → D) projects the sum (o = Wᵀ Vᵀŝ),
    /// instead of v1's E projectors Linear(E·Dv → D). The √E-times larger key sets stay (V2's k_e = √E key sets per side, paired into E
    /// blocks).
    /// </summary>
    public bool SingleProjector { get; init; }

    /// <summary>Dp: PEER-style pre-values (V2). Each selected slot i gets a_i = ⟨W_pre x, P[i]⟩ multiplying its score; null =
    /// off.</summary>
    public int? PreValueDim { get; init; }

    /// <summary>Activation on a_i: <c>none</c> (V2's choice) or <c>gelu</c>.</summary>
    public PreValueActivation PreValueActivation { get; init; } = PreValueActivation.None;

    /// <summary>Memory+ output gate: o = W_out(m(x) ⊙ SiLU(W_s x)); needs a value projection (W_out).</summary>
    public bool OutputGate { get; init; }

    /// <summary>
    /// A constant learning rate for the value (and pre-value) tables, outside the warmup/cosine schedule (Memory+: 1e-3);
    /// null = the scheduled rate × the κ → 1 multiplier.
    /// </summary>
    public double? ValueLr { get; init; }

    /// <summary>
    /// Read the model's shared table (<see cref="Model.ModelConfig.SharedValueRows"/> rows) instead of owning one: this layer's N = n² rows
    /// are the window starting at <see cref="SharedOffset"/>, wrapping around the end (Memory+: every layer at offset 0; V2's ring).
    /// </summary>
    public bool SharedValues { get; init; }

    /// <summary>First row of this layer's window in the shared table (rows wrap modulo the shared table size).</summary>
    public long SharedOffset { get; init; }

    [JsonIgnore]
    public bool IsTucker => Retrieval == Retrieval.Tucker;

    [JsonIgnore]
    public int SqrtExpansion => (int)Math.Round(Math.Sqrt(Expansion));

    /// <summary>n' = √E·n: keys per side, addressing the E·N virtual values.</summary>
    [JsonIgnore]
    public int VirtualKeys => NKeys * SqrtExpansion;

    [JsonIgnore]
    public long Rows => (long)NKeys * NKeys;

    [JsonIgnore]
    public int Rank => IsTucker ? TuckerRank : 1;

    [JsonIgnore]
    public int Cores => IsTucker ? TuckerCores : 1;

    [JsonIgnore]
    public int QueryHeads => ShareQuery ? Heads / 2 : Heads;

    [JsonIgnore]
    public int CoarseTopResolved => Math.Min(CoarseTop ?? TopM, VirtualKeys);

    public int ValueDimResolved(int dModel) => ValueDim ?? dModel;

    /// <summary>Pooled width fed to value_proj: E·Dv (one projector per IVE group) or Dv (single projector).</summary>
    public int PooledDim(int dModel) => (SingleProjector ? 1 : Expansion) * ValueDimResolved(dModel);

    public bool HasProjection(int dModel) => ValueProjection || OutputGate || Expansion > 1 || PooledDim(dModel) != dModel;

    [JsonIgnore]
    public int PreValueDimResolved => PreValueDim ?? 0;

    /// <summary>Queries per head: r with <see cref="QueryPerRank"/>, else 1.</summary>
    [JsonIgnore]
    public int QueriesPerHead => QueryPerRank ? Rank : 1;

    /// <summary>Throws <see cref="UltraMemException"/> naming the first impossible setting.</summary>
    public MemoryConfig Validate(int dModel, string where = "memory")
    {
        void Check(bool ok, string what)
        {
            if (!ok)
                throw new UltraMemException($"invalid {where}: {what}");
        }
        Check(NKeys >= 2, $"n_keys must be >= 2 (got {NKeys})");
        Check(Heads >= 1 && Heads <= 1 << 12, $"heads must be in [1, {1 << 12}] (got {Heads})");
        Check(TopM >= 1, $"top_m must be >= 1 (got {TopM})");
        Check(KeyDim >= 2 && KeyDim % 2 == 0, $"key_dim must be even and >= 2 (got {KeyDim}); it is split into a row and a column half");
        Check(
            KeyDim <= 1 << 16 && (ValueDim ?? 0) <= 1 << 16 && (PreValueDim ?? 0) <= 1 << 16,
            "key_dim, value_dim and pre_value_dim must be at most 65536"
        );
        Check(ValueDim is null || ValueDim >= 1, $"value_dim must be positive (got {ValueDim})");
        Check(
            Expansion >= 1 && SqrtExpansion * SqrtExpansion == Expansion,
            $"expansion must be a perfect square (1, 4, 9, 16; got {Expansion}) because each key set grows by sqrt(E)"
        );
        Check(JsonEnum.IsDefined(QueryNorm), JsonEnum.Expected(typeof(QueryNorm), QueryNorm.ToString()));
        Check(JsonEnum.IsDefined(Retrieval), JsonEnum.Expected(typeof(Retrieval), Retrieval.ToString()));
        Check(JsonEnum.IsDefined(Init), JsonEnum.Expected(typeof(InitScheme), Init.ToString()));
        Check(JsonEnum.IsDefined(CoarseSearch), JsonEnum.Expected(typeof(CoarseSearch), CoarseSearch.ToString()));
        Check(IsTucker || CoarseSearch == CoarseSearch.Top, "coarse_search needs retrieval = tucker (TDQKR's coarse stage)");
        Check(!ShareQuery || Heads % 2 == 0, $"share_query pairs heads, so heads must be even (got {Heads})");
        Check(!IsTucker || TuckerRank >= 1, $"tucker_rank must be >= 1 (got {TuckerRank})");
        Check(!IsTucker || TuckerCores >= 1, $"tucker_cores must be >= 1 (got {TuckerCores})");
        Check(IsTucker || TuckerCores == 1, "tucker_cores > 1 (MCS) needs retrieval = tucker");
        Check(!TuckerAuxLoss || (IsTucker && TuckerRank >= 2), "tucker_aux_loss needs retrieval = tucker with tucker_rank >= 2");
        Check(
            ValueDimResolved(dModel) % Cores == 0,
            $"value_dim {ValueDimResolved(dModel)} must be divisible by tucker_cores {Cores} (MCS splits each value into h chunks)"
        );
        Check(CoarseTop is null || CoarseTop >= TopM, $"coarse_top ({CoarseTop}) must be >= top_m ({TopM})");
        Check(TopM <= (long)NKeys * NKeys, $"top_m ({TopM}) exceeds the {Rows} values");
        Check(
            IsTucker || TopM <= VirtualKeys,
            $"product-key retrieval takes top_m per key side, so top_m ({TopM}) must be <= keys per side ({VirtualKeys})"
        );
        Check(TopM <= (long)CoarseTopResolved * CoarseTopResolved, $"top_m ({TopM}) exceeds the coarse_top² candidates");
        Check(
            ValueLrMultiplier > 0 && double.IsFinite(ValueLrMultiplier),
            $"value_lr_multiplier must be positive (got {ValueLrMultiplier})"
        );
        Check(ValueLrDecaySteps is null || ValueLrDecaySteps >= 1, $"value_lr_decay_steps must be >= 1 (got {ValueLrDecaySteps})");
        Check(QueryConvKernel >= 1, $"query_conv_kernel must be >= 1 (got {QueryConvKernel})");
        Check(TuckerAuxTau >= 0 && TuckerAuxAlpha >= 0, "tucker_aux_tau and tucker_aux_alpha must be >= 0");
        Check(!QueryPerRank || IsTucker, "query_per_rank needs retrieval = tucker");
        Check(PreValueDim is null || PreValueDim >= 1, $"pre_value_dim must be positive (got {PreValueDim})");
        Check(JsonEnum.IsDefined(PreValueActivation), JsonEnum.Expected(typeof(PreValueActivation), PreValueActivation.ToString()));
        Check(ValueLr is null || (ValueLr > 0 && double.IsFinite(ValueLr.Value)), $"value_lr must be positive (got {ValueLr})");
        Check(SharedOffset >= 0, $"shared_offset must be >= 0 (got {SharedOffset})");
        Check((long)Rows * Expansion < int.MaxValue, $"n_keys² · expansion must stay below 2^31 (got {Rows * Expansion})");
        return this;
    }
}
