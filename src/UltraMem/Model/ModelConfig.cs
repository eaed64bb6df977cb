using System.Text.Json;
using System.Text.Json.Serialization;
using UltraMem.Layers;

namespace UltraMem.Model;

/// <summary>
/// Decoder-only Transformer configuration. Serialises to JSON with snake_case names (see <see cref="Json"/>).
/// Defaults follow the papers' recipe (pre-norm RMSNorm, RoPE, SwiGLU, dropout 0.1).
/// </summary>
public sealed record ModelConfig
{
    public int VocabSize { get; init; } = 8192;

    /// <summary>D, the residual width.</summary>
    public int DModel { get; init; } = 256;

    /// <summary>L, the number of Transformer blocks.</summary>
    public int NLayers { get; init; } = 4;
    public int NHeads { get; init; } = 4;

    /// <summary>SwiGLU inner width; null means 8/3·D rounded up to a multiple of 32.</summary>
    public int? FfnHidden { get; init; }

    /// <summary>Per-block FFN kind: <c>swiglu</c> (default) or <c>none</c>.</summary>
    public FfnKind Ffn { get; init; } = FfnKind.SwiGlu;
    public int MaxSeqLen { get; init; } = 256;
    public double Dropout { get; init; } = 0.1;
    public bool TieEmbeddings { get; init; } = true;
    public double RopeTheta { get; init; } = 10000.0;
    public double NormEps { get; init; } = 1e-5;

    /// <summary>Std of the normal init of linears and embeddings; output projections also get 1/sqrt(2L).</summary>
    public double InitStd { get; init; } = 0.02;

    /// <summary>Extra layers plugged into the residual stream (memory layers, MoE, …).</summary>
    public List<SlotPlacement> MemoryLayers { get; init; } = new();

    /// <summary>
    /// G: rows of one value table shared by the memory layers with <c>shared_values</c> (Memory+; UltraMemV2's ring);
    /// null = no shared table. Each such layer reads its n² rows starting at its <c>shared_offset</c>, modulo G.
    /// </summary>
    public long? SharedValueRows { get; init; }

    [JsonIgnore]
    public int HeadDim => DModel / NHeads;

    [JsonIgnore]
    public int FfnHiddenResolved => FfnHidden ?? SwiGLU.DefaultHidden(DModel);

    /// <summary>This config without plugged-in layers and shared table: the dense model they are added to.</summary>
    public ModelConfig Backbone() => this with { MemoryLayers = new(), SharedValueRows = null };

    /// <summary>What the plugged-in layers need to know about this model (sizes, init, backbone parameters and FLOPs).</summary>
    public SlotContext ForSlots() =>
        new(
            DModel,
            NLayers,
            FfnHiddenResolved,
            InitStd,
            ModelAccounting.DenseNonEmbeddingParameters(this),
            ModelAccounting.Total(Backbone()).FlopsPerToken
        );

    /// <summary>A model config is the context of its slots (so layer APIs taking a <see cref="Layers.SlotContext"/> accept a
    /// config).</summary>
    public static implicit operator SlotContext(ModelConfig config) => config.ForSlots();

    /// <summary>
    /// This config with every default a placement left open filled in by its kind (<see cref="SlotKind.DefaultSettings"/>,
    /// <see cref="SlotKind.ResolveSettings"/>): a null settings block becomes the kind's defaults for this model, and unset
    /// widths (value_dim, coarse_top, expert_hidden, hidden) their values. A run writes the resolved config, so it records every
    /// setting it used and a later change of a default cannot change it. Idempotent; validates first.
    /// </summary>
    public ModelConfig Resolve()
    {
        Validate();
        if (MemoryLayers.Count == 0)
            return this;
        var context = ForSlots();
        var placements = MemoryLayers
            .Select(p =>
            {
                var kind = SlotKinds.Get(p.Kind);
                return p with { Settings = kind.ResolveSettings(p.Settings ?? kind.DefaultSettings(context), context) };
            })
            .ToList();
        return (this with { MemoryLayers = placements }).Validate();
    }

    /// <summary>Throws <see cref="UltraMemException"/> naming the first impossible setting.</summary>
    public ModelConfig Validate()
    {
        void Positive(string name, double v)
        {
            if (!(v > 0))
                throw new UltraMemException($"invalid model config: {name} must be positive (got {v})");
        }
        void AtMost(string name, long v, long max)
        {
            if (v > max)
                throw new UltraMemException($"invalid model config: {name} must be at most {max} (got {v})");
        }
        Positive("vocab_size", VocabSize);
        Positive("d_model", DModel);
        Positive("n_layers", NLayers);
        Positive("n_heads", NHeads);
        Positive("max_seq_len", MaxSeqLen);
        Positive("rope_theta", RopeTheta);
        Positive("norm_eps", NormEps);
        Positive("init_std", InitStd);
        if (FfnHidden is { } f)
            Positive("ffn_hidden", f);
        // far beyond what trains on any machine, and small enough that no count overflows (accounting, FLOPs)
        AtMost("vocab_size", VocabSize, 1 << 24);
        AtMost("d_model", DModel, 1 << 16);
        AtMost("n_layers", NLayers, 1 << 12);
        AtMost("max_seq_len", MaxSeqLen, 1 << 20);
        AtMost("ffn_hidden", FfnHidden ?? 0, 1 << 22);
        AtMost("memory_layers (their number)", MemoryLayers.Count, 1 << 12);
        if (DModel % NHeads != 0)
            throw new UltraMemException($"invalid model config: n_heads ({NHeads}) must divide d_model ({DModel})");
        if (HeadDim % 2 != 0)
            throw new UltraMemException($"invalid model config: head dim d_model/n_heads = {HeadDim} must be even for RoPE");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
            throw new UltraMemException($"invalid model config: dropout must be in [0, 1) (got {Dropout})");
        if (!IO.JsonEnum.IsDefined(Ffn))
            throw new UltraMemException($"invalid model config: {IO.JsonEnum.Expected(typeof(FfnKind), Ffn.ToString())}");
        for (int i = 0; i < MemoryLayers.Count; i++)
        {
            var p = MemoryLayers[i];
            if (p.ReadAt < 0 || p.AddAfter >= NLayers || p.ReadAt > p.AddAfter)
                throw new UltraMemException(
                    $"invalid model config: memory_layers[{i}] reads at block {p.ReadAt} and adds after block {p.AddAfter}; need 0 <= read_at <= add_after < n_layers ({NLayers})"
                );
            if (p.ReplaceFfn && p.ReadAt != p.AddAfter)
                throw new UltraMemException($"invalid model config: memory_layers[{i}] replace_ffn needs read_at == add_after");
            if (SlotKinds.Find(p.Kind) is not { } kind)
                throw new UltraMemException(
                    $"invalid model config: memory_layers[{i}] has unknown kind '{p.Kind}' (known: {string.Join(", ", SlotKinds.Names)})"
                );
            if (p.Settings is { } settings)
            {
                if (settings.GetType() != kind.SettingsType)
                    throw new UltraMemException(
                        $"invalid model config: memory_layers[{i}] of kind '{p.Kind}' cannot take a "
                            + $"'{SlotKinds.BySettings(settings.GetType())?.Block ?? settings.GetType().Name}' block"
                    );
                kind.ValidateSettings(settings, DModel, $"model config: memory_layers[{i}].{kind.Block}");
            }
        }
        var shared = MemoryLayers.Select((p, i) => (p.Memory, i)).Where(x => x.Memory?.SharedValues == true).ToList();
        if (SharedValueRows is { } g)
        {
            if (g < 1 || g >= int.MaxValue)
                throw new UltraMemException($"invalid model config: shared_value_rows must be in [1, 2^31) (got {g})");
            if (shared.Count == 0)
                throw new UltraMemException("invalid model config: shared_value_rows is set but no memory layer has shared_values");
            var first = shared[0].Memory!;
            foreach (var (m, i) in shared)
            {
                if (m!.Rows > g)
                    throw new UltraMemException(
                        $"invalid model config: memory_layers[{i}] reads n_keys² = {m.Rows} rows, more than the {g} shared_value_rows"
                    );
                if (m.ValueDimResolved(DModel) != first.ValueDimResolved(DModel) || m.PreValueDimResolved != first.PreValueDimResolved)
                    throw new UltraMemException(
                        $"invalid model config: memory_layers[{i}] value_dim/pre_value_dim differ from memory_layers[{shared[0].i}]; layers sharing a table must agree"
                    );
                if (
                    m.Init != first.Init
                    || m.ValueLr != first.ValueLr
                    || m.ValueLrMultiplier != first.ValueLrMultiplier
                    || m.ValueLrDecaySteps != first.ValueLrDecaySteps
                )
                    throw new UltraMemException(
                        $"invalid model config: memory_layers[{i}] init/value_lr settings differ from memory_layers[{shared[0].i}]; the shared table has one init and one optimizer group"
                    );
            }
        }
        else if (shared.Count > 0)
            throw new UltraMemException(
                $"invalid model config: memory_layers[{shared[0].i}] has shared_values but the model has no shared_value_rows"
            );
        return this;
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        RespectNullableAnnotations = true,
    };

    /// <summary>The document options matching <see cref="Json"/> (comments and trailing commas allowed), for <see cref="IO.StrictJson"/>.</summary>
    public static readonly JsonDocumentOptions JsonOptions = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelConfig FromJson(string json, string source = "config")
    {
        try
        {
            IO.StrictJson.Check(json, JsonOptions);
            return (
                JsonSerializer.Deserialize<ModelConfig>(json, Json) ?? throw new UltraMemException($"{source}: empty model config")
            ).Validate();
        }
        catch (JsonException e)
        {
            throw new UltraMemException($"{source}: invalid model config JSON: {IO.StrictJson.Describe(e)}", e);
        }
    }

    /// <summary>Named presets. <c>tiny</c> is for tests and the demo; <c>small</c> for real runs on a CPU.</summary>
    public static ModelConfig Preset(string name, int vocabSize) =>
        name switch
        {
            "tiny" => new ModelConfig
            {
                VocabSize = vocabSize,
                DModel = 128,
                NLayers = 4,
                NHeads = 4,
                MaxSeqLen = 128,
                Dropout = 0.1,
            },
            "small" => new ModelConfig
            {
                VocabSize = vocabSize,
                DModel = 384,
                NLayers = 6,
                NHeads = 6,
                MaxSeqLen = 256,
                Dropout = 0.1,
            },
            "base" => new ModelConfig
            {
                VocabSize = vocabSize,
                DModel = 768,
                NLayers = 12,
                NHeads = 12,
                MaxSeqLen = 512,
                Dropout = 0.1,
            },
            _ => throw new UltraMemException($"unknown preset '{name}' (known: {string.Join(", ", PresetNames)})"),
        };

    public static readonly string[] PresetNames = { "tiny", "small", "base" };
}
