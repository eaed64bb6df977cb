using TorchSharp;
using TorchSharp.Modules;
using UltraMem.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UltraMem.Model;

/// <summary>
/// Decoder-only Transformer language model (the whole model in one file, nanoGPT style).
/// tokens [B, T] → embed_tokens → L × DecoderBlock → norm → lm_head (tied to embed_tokens by default) → logits [B, T, V].
/// Extra layers (<see cref="ModelConfig.MemoryLayers"/>) read a block's normalised FFN input and add their
/// output after a (possibly later) block, so memory layers and MoE plug in without touching the backbone.
/// Parameter names follow PyTorch/HF LLaMA conventions, so state dicts move between ecosystems.
/// </summary>
public sealed class TransformerLM : nn.Module<Tensor, Tensor>
{
    public Embedding embed_tokens;
    public ModuleList<DecoderBlock> layers;
    public ModuleList<FeedForwardSlot> memory_layers;
    public Layers.Memory.SharedMemory? shared_memory; // one value table read by several memory layers (Memory+, V2 ring)
    public RMSNorm norm;
    public Linear? lm_head;

    readonly Dropout _dropout;
    readonly RotaryEmbedding _rope;
    readonly List<int>[] _readersAt; // block index → memory layers reading its FFN input

    public ModelConfig Config { get; }

    /// <param name="config">The model; defaults its placements leave open are resolved first (<see cref="ModelConfig.Resolve"/>).</param>
    public TransformerLM(ModelConfig config)
        : base(nameof(TransformerLM))
    {
        // built and initialised on the CPU, whatever TorchSharp's default device (Platform.Devices): the same seed gives the
        // same weights everywhere; move the model afterwards (ToDevice)
        Config = config = config.Resolve();
        var previousDevice = get_default_device();
        set_default_device(CPU);
        try
        {
            var context = config.ForSlots();
            var replaced = config.MemoryLayers.Where(p => p.ReplaceFfn).Select(p => p.ReadAt).ToHashSet();
            embed_tokens = nn.Embedding(config.VocabSize, config.DModel);
            layers = new ModuleList<DecoderBlock>();
            for (int i = 0; i < config.NLayers; i++)
                layers.Add(new DecoderBlock(config, withFfn: config.Ffn == FfnKind.SwiGlu && !replaced.Contains(i)));
            var sharedBy = config.MemoryLayers.FirstOrDefault(p => p.Memory?.SharedValues == true)?.Memory;
            if (config.SharedValueRows is { } g && sharedBy is not null)
                shared_memory = new Layers.Memory.SharedMemory(
                    g,
                    sharedBy.ValueDimResolved(config.DModel),
                    sharedBy.PreValueDimResolved,
                    new Layers.Memory.ValueGroup(sharedBy.ValueLrMultiplier, sharedBy.ValueLrDecaySteps, sharedBy.ValueLr)
                );
            memory_layers = new ModuleList<FeedForwardSlot>();
            foreach (var p in config.MemoryLayers)
                memory_layers.Add(SlotKinds.Get(p.Kind).Build(p.Settings!, context, shared_memory));
            norm = new RMSNorm(config.DModel, config.NormEps);
            lm_head = config.TieEmbeddings ? null : nn.Linear(config.DModel, config.VocabSize, hasBias: false);
            _dropout = nn.Dropout(config.Dropout);
            _rope = new RotaryEmbedding(config.HeadDim, config.MaxSeqLen, config.RopeTheta);
            _readersAt = Enumerable.Range(0, config.NLayers).Select(_ => new List<int>()).ToArray();
            for (int j = 0; j < config.MemoryLayers.Count; j++)
                _readersAt[config.MemoryLayers[j].ReadAt].Add(j);
            RegisterComponents();
            InitializeWeights();
            for (int j = 0; j < memory_layers.Count; j++)
                memory_layers[j].InitializeParameters(context);
            if (SharedReaders().FirstOrDefault() is { } reader)
                Layers.Memory.MemoryInit.InitializeTables(reader, context); // the shared table, once
        }
        finally
        {
            set_default_device(previousDevice);
        }
    }

    /// <summary>The device of the model's weights.</summary>
    public Device Device => embed_tokens.weight!.device;

    /// <summary>Moves the weights (and buffers) to <paramref name="device"/>; nothing when they are there already.</summary>
    public TransformerLM ToDevice(Device device)
    {
        if (Device.type != device.type || Device.index != device.index)
            this.to(device);
        return this;
    }

    /// <summary>The memory layers reading <see cref="shared_memory"/>.</summary>
    IEnumerable<Layers.Memory.MemoryLayer> SharedReaders() =>
        memory_layers.OfType<Layers.Memory.MemoryLayer>().Where(m => m.Options.SharedValues);

    /// <summary>
    /// N(0, init_std) for embeddings and linears; residual output projections (o_proj, down_proj) also
    /// scaled by 1/sqrt(2L) (GPT-2). Norm gains start at 1. Layers with their own init override it afterwards.
    /// </summary>
    void InitializeWeights()
    {
        using var _ = no_grad();
        double std = Config.InitStd,
            outStd = std / Math.Sqrt(2.0 * Config.NLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (p.dim() < 2)
                continue;
            bool residualOut = name.EndsWith("o_proj.weight") || name.EndsWith("down_proj.weight");
            nn.init.normal_(p, 0, residualOut ? outStd : std);
        }
    }

    public override Tensor forward(Tensor tokens) => Forward(tokens, null);

    /// <summary>
    /// Logits [B, T, V] for tokens [B, T]. With a <see cref="DecodeCache"/>, tokens are the next positions
    /// after the cached ones and the cache advances by T. <paramref name="lastPositionOnly"/> computes the
    /// output head only for the last position (decoding).
    /// </summary>
    public Tensor Forward(Tensor tokens, DecodeCache? cache, bool lastPositionOnly = false)
    {
        if (tokens.dim() != 2)
            throw new ArgumentException($"tokens must be [B, T], got [{string.Join(", ", tokens.shape)}]");
        int start = cache?.Position ?? 0;
        long t = tokens.shape[1];
        if (start + t > Config.MaxSeqLen)
            throw new UltraMemException($"sequence of {start + t} tokens exceeds max_seq_len {Config.MaxSeqLen}");
        using var scope = NewDisposeScope();
        var h = _dropout.forward(embed_tokens.forward(tokens));
        var pending = new Tensor?[Config.NLayers]; // outputs of skip layers waiting for their block
        for (int i = 0; i < Config.NLayers; i++)
        {
            var block = layers[i];
            var a = block.self_attn.Forward(block.input_layernorm.forward(h), _rope, cache?.Attention[i], start);
            h = h + _dropout.forward(a);
            var x = block.post_attention_layernorm.forward(h);
            Tensor? update = block.mlp?.forward(x);
            foreach (int j in _readersAt[i])
            {
                var y = cache is null ? memory_layers[j].forward(x) : memory_layers[j].Step(x, cache.Slots[j]);
                int b = Config.MemoryLayers[j].AddAfter;
                if (b == i)
                    update = update is null ? y : update + y;
                else
                    pending[b] = pending[b] is null ? y : pending[b]! + y;
            }
            if (pending[i] is { } late)
                update = update is null ? late : update + late;
            if (update is not null)
                h = h + _dropout.forward(update);
        }
        if (lastPositionOnly)
            h = h.narrow(1, t - 1, 1);
        h = norm.forward(h);
        var logits = lm_head is null ? SmallBatchLinear.Forward(h, embed_tokens.weight!) : SmallBatchLinear.Forward(lm_head, h);
        if (cache is not null)
            cache.Position = start + (int)t;
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Mean next-token cross-entropy of logits for targets [B, T].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets) =>
        F.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));

    /// <summary>Sum of the plugged-in layers' auxiliary losses from the last forward pass, or null.</summary>
    public Tensor? AuxiliaryLoss()
    {
        Tensor? total = null;
        foreach (var slot in Slots())
            if (slot.AuxiliaryLoss is { } l)
                total = total is null ? l : total + l;
        return total;
    }

    /// <summary>The plugged-in layers and the block FFNs.</summary>
    public IEnumerable<FeedForwardSlot> Slots() => memory_layers.Concat(layers.Select(b => b.mlp).OfType<FeedForwardSlot>());

    /// <summary>
    /// Every value table of the model, found by type (<see cref="Layers.Memory.ValueTable.OwnedBy"/>), by full state-dict name
    /// of its weight (e.g. <c>memory_layers.0.values.weight</c>, <c>shared_memory.values.weight</c>), each with its row-sparse
    /// gradient collector.
    /// </summary>
    public IReadOnlyList<(string Name, Layers.Memory.RowSparseGradient Gradient)> RowSparseTables() =>
        Layers.Memory.ValueTable.OwnedBy(this).Select(t => (t.Name + ".weight", t.Table.Sparse)).ToList();

    /// <summary>
    /// Value-table optimizer groups: the tables that carry a <see cref="Layers.Memory.ValueTable.Group"/>, grouped by the
    /// module that owns them and their settings, named <c>OWNER.values</c> (<c>.1</c>, <c>.2</c>, … for further settings of the
    /// same owner), with full parameter names.
    /// </summary>
    public IReadOnlyList<(string Name, Layers.Memory.ValueGroup Group, IReadOnlyList<string> Parameters)> ValueGroups()
    {
        var groups = new List<(string, Layers.Memory.ValueGroup, IReadOnlyList<string>)>();
        var tables = Layers.Memory.ValueTable.OwnedBy(this).Where(t => t.Table.Group is not null);
        foreach (var byOwner in tables.GroupBy(t => t.Name.Contains('.') ? t.Name[..t.Name.LastIndexOf('.')] : ""))
        foreach (var (bySettings, k) in byOwner.GroupBy(t => t.Table.Group!).Select((g, k) => (g, k)))
            groups.Add(
                ($"{byOwner.Key}.values" + (k > 0 ? $".{k}" : ""), bySettings.Key, bySettings.Select(t => t.Name + ".weight").ToList())
            );
        return groups;
    }

    /// <summary>Lets layers update state that depends on the new parameters (call after every optimizer step).</summary>
    public void AfterOptimizerStep()
    {
        foreach (var s in Slots())
            s.AfterOptimizerStep();
    }

    /// <summary>Per-memory-layer diagnostics since the last reset, keyed <c>mem{j}.{name}</c>.</summary>
    public IReadOnlyDictionary<string, double> Diagnostics(bool reset)
    {
        var all = new Dictionary<string, double>();
        for (int j = 0; j < memory_layers.Count; j++)
            foreach (var (k, v) in memory_layers[j].Diagnostics(reset))
                all[$"mem{j}.{k}"] = v;
        return all;
    }

    /// <summary>Total and activated (per-token) parameters and FLOPs of each component (<see cref="ModelAccounting.Report"/>).</summary>
    public IReadOnlyList<(string Component, ParameterCount Count)> ParameterReport() => ModelAccounting.Report(Config);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _rope.Dispose();
        base.Dispose(disposing);
    }
}
