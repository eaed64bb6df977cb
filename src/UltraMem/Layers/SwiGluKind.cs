using System.Text.Json;
using UltraMem.Layers.Memory;

namespace UltraMem.Layers;

/// <summary>The <c>swiglu</c> kind: an extra dense SwiGLU FFN, <c>hidden</c> wide (a number in the placement, not a block).</summary>
public sealed class SwiGluKind : SlotKind<SwiGluSettings>
{
    public static readonly SwiGluKind Instance = new();

    SwiGluKind()
        : base("swiglu", "hidden") { }

    /// <summary>The width alone, a number.</summary>
    public override Type BlockType => typeof(int?);

    public override SwiGluSettings Defaults(SlotContext model) => new(model.FfnHidden);

    public override SwiGluSettings Resolve(SwiGluSettings s, SlotContext model) => new(s.Hidden ?? model.FfnHidden);

    public override void Validate(SwiGluSettings s, int dModel, string where)
    {
        if (s.Hidden is { } h && !(h > 0))
            throw new UltraMemException($"invalid {where} must be positive (got {h})");
    }

    public override FeedForwardSlot Build(SwiGluSettings s, SlotContext model, SharedMemory? shared) =>
        new SwiGLU(model.DModel, s.Hidden ?? model.FfnHidden);

    public override ParameterCount Count(SwiGluSettings s, SlotContext model) =>
        SwiGLU.Accounting(model.DModel, s.Hidden ?? model.FfnHidden);

    public override object ReadSettings(ref Utf8JsonReader reader, JsonSerializerOptions options) =>
        new SwiGluSettings(reader.TokenType == JsonTokenType.Null ? null : reader.GetInt32());

    public override void WriteSettings(Utf8JsonWriter writer, object settings, JsonSerializerOptions options)
    {
        if (((SwiGluSettings)settings).Hidden is { } h)
            writer.WriteNumberValue(h);
        else
            writer.WriteNullValue();
    }
}
