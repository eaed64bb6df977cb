using System.Text.Json;
using UltraMem.Layers.Memory;

namespace UltraMem.Layers;

/// <summary>
/// Everything the project knows about one kind of feed-forward slot, in one place: its JSON name and settings block, its
/// defaults, validation, construction, config-only accounting, description, the rows a batch reads from its sparse tables
/// (the decode cost model) and the knobs family matching turns. A model config's registry (<c>SlotKinds</c>) maps the JSON
/// <c>kind</c> of each placement to one of these; adding a kind is a folder with its layer, its settings record and its
/// <see cref="SlotKind{T}"/>, plus one registry line.
/// </summary>
public abstract class SlotKind
{
    protected SlotKind(string name, string block, Type settingsType)
    {
        Name = name;
        Block = block;
        SettingsType = settingsType;
    }

    /// <summary>The <c>kind</c> of a placement in JSON (e.g. <c>ultramem</c>).</summary>
    public string Name { get; }

    /// <summary>The property of a placement that holds this kind's settings (e.g. <c>memory</c>; <c>hidden</c> for
    /// <c>swiglu</c>).</summary>
    public string Block { get; }

    /// <summary>The settings record of this kind (e.g. <see cref="MemoryConfig"/>).</summary>
    public Type SettingsType { get; }

    /// <summary>The type of the <see cref="Block"/> value as written in JSON (the settings type, unless the kind writes it
    /// otherwise).</summary>
    public virtual Type BlockType => SettingsType;

    /// <summary>The settings of a placement that names this kind without a settings block, for a model with context <paramref
    /// name="model"/>.</summary>
    public abstract object DefaultSettings(SlotContext model);

    /// <summary><paramref name="settings"/> with every setting left to a default (null) filled in, so a config records all it
    /// uses.</summary>
    public abstract object ResolveSettings(object settings, SlotContext model);

    /// <summary>Throws <see cref="UltraMemException"/> naming the first impossible setting; <paramref name="where"/> names the
    /// block.</summary>
    public abstract void ValidateSettings(object settings, int dModel, string where);

    /// <summary>The layer; <paramref name="shared"/> is the model's shared value table, for layers that read one.</summary>
    public abstract FeedForwardSlot Build(object settings, SlotContext model, SharedMemory? shared);

    /// <summary>Total and per-token activated parameters and forward FLOPs of the layer <see cref="Build"/> would make (nothing
    /// allocated).</summary>
    public abstract ParameterCount Count(object settings, SlotContext model);

    /// <summary>One line with the layer's shape in the papers' symbols, or null for a dense slot with nothing to add.</summary>
    public virtual string? Describe(object settings, SlotContext model, long? sharedRows) => null;

    /// <summary>The sparse part of <paramref name="layers"/> such layers in a few words (<c>ultramem match</c>), or null for a dense
    /// kind.</summary>
    public virtual string? SparsePart(object settings, SlotContext model, int layers) => null;

    /// <summary>
    /// Parameters one decode step of <paramref name="batch"/> tokens reads from this layer's sparse tables, by the cost model
    /// (<paramref name="uniform"/>: rows drawn uniformly at random, else every token reading distinct rows up to the table size).
    /// </summary>
    public virtual double SparseParametersRead(object settings, SlotContext model, int batch, bool uniform) => 0;

    /// <summary>
    /// Family matching's total-parameter knob (a table size: keys per side, experts), or null when the kind has no sparse
    /// table; layers of a model that have one are all set to the same value.
    /// </summary>
    public virtual SizeKnob? TableKnob => null;

    /// <summary>
    /// Family matching's compute knob when this kind replaces the FFN's (MoE: the settings with another expert width), else
    /// null (the FFN width is the knob); searched like the FFN width.
    /// </summary>
    public virtual Func<object, int, object>? WithComputeWidth => null;

    /// <summary>Reads this kind's settings block (the value of <see cref="Block"/>) with the model config's JSON options.</summary>
    public virtual object ReadSettings(ref Utf8JsonReader reader, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize(ref reader, SettingsType, options) ?? throw new JsonException($"'{Block}' must not be null");

    /// <summary>Writes this kind's settings block (the value of <see cref="Block"/>).</summary>
    public virtual void WriteSettings(Utf8JsonWriter writer, object settings, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, settings, SettingsType, options);

    /// <summary>Distinct rows read when each of <paramref name="batch"/> tokens picks <paramref name="perToken"/> of <paramref name="n"/>
    /// rows.</summary>
    public static double ExpectedRows(long n, long perToken, int batch, bool uniform) =>
        uniform ? n * (1 - Math.Pow(1 - Math.Min(1.0, perToken / (double)n), batch)) : Math.Min((double)perToken * batch, n);
}

/// <summary>A <see cref="SlotKind"/> with typed settings: implement the typed members, the untyped ones cast.</summary>
public abstract class SlotKind<T> : SlotKind
    where T : class
{
    protected SlotKind(string name, string block)
        : base(name, block, typeof(T)) { }

    public abstract T Defaults(SlotContext model);

    public virtual T Resolve(T settings, SlotContext model) => settings;

    public abstract void Validate(T settings, int dModel, string where);
    public abstract FeedForwardSlot Build(T settings, SlotContext model, SharedMemory? shared);
    public abstract ParameterCount Count(T settings, SlotContext model);

    public virtual string? Describe(T settings, SlotContext model, long? sharedRows) => null;

    public virtual string? SparsePart(T settings, SlotContext model, int layers) => null;

    public virtual double SparseParametersRead(T settings, SlotContext model, int batch, bool uniform) => 0;

    public sealed override object DefaultSettings(SlotContext model) => Defaults(model);

    public sealed override object ResolveSettings(object settings, SlotContext model) => Resolve(Cast(settings), model);

    public sealed override void ValidateSettings(object settings, int dModel, string where) => Validate(Cast(settings), dModel, where);

    public sealed override FeedForwardSlot Build(object settings, SlotContext model, SharedMemory? shared) =>
        Build(Cast(settings), model, shared);

    public sealed override ParameterCount Count(object settings, SlotContext model) => Count(Cast(settings), model);

    public sealed override string? Describe(object settings, SlotContext model, long? sharedRows) =>
        Describe(Cast(settings), model, sharedRows);

    public sealed override string? SparsePart(object settings, SlotContext model, int layers) => SparsePart(Cast(settings), model, layers);

    public sealed override double SparseParametersRead(object settings, SlotContext model, int batch, bool uniform) =>
        SparseParametersRead(Cast(settings), model, batch, uniform);

    /// <summary>A table knob over <typeparamref name="T"/> (see <see cref="SizeKnob"/>).</summary>
    protected static SizeKnob Knob(Func<T, int, T> with, Func<T, int, int, int> smallest, int largest) =>
        new((s, n) => with((T)s, n), (s, d, from) => smallest((T)s, d, from), largest);

    T Cast(object settings) =>
        settings as T
        ?? throw new UltraMemException($"a '{Name}' layer takes a '{Block}' block ({typeof(T).Name}), not {settings.GetType().Name}");
}
