using System.Text.Json;
using System.Text.Json.Serialization;

namespace UltraMem.Model;

/// <summary>
/// JSON of a <see cref="SlotPlacement"/>: the four placement fields, then at most one settings block, read as the type of
/// the registered kind that owns the block's name (<see cref="SlotKinds.ByBlock"/>). Unknown properties, duplicates and
/// two blocks are errors; which kinds may take which block is checked by <see cref="ModelConfig.Validate"/>.
/// </summary>
public sealed class SlotPlacementJson : JsonConverter<SlotPlacement>
{
    /// <summary>The type of a placement's JSON field <paramref name="name"/> (a settings block: its kind's settings type), or
    /// null.</summary>
    public static Type? MemberType(string name) =>
        name switch
        {
            "kind" => typeof(string),
            "read_at" or "add_after" => typeof(int),
            "replace_ffn" => typeof(bool),
            _ => SlotKinds.ByBlock(name)?.BlockType,
        };

    /// <summary>Field types of the objects this converter writes, for path-based overrides (<see cref="IO.JsonOverrides.Set"/>).</summary>
    public static Type? Members(Type type, string name) => type == typeof(SlotPlacement) ? MemberType(name) : null;

    public override SlotPlacement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("each memory_layers entry must be an object");
        var p = new SlotPlacement();
        string? block = null;
        object? settings = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            reader.Read();
            if (!seen.Add(name))
                throw new JsonException($"memory_layers entry has '{name}' twice");
            switch (name)
            {
                case "kind":
                    p = p with
                    {
                        Kind =
                            JsonSerializer.Deserialize<string>(ref reader, options) ?? throw new JsonException("'kind' must be a string"),
                    };
                    break;
                case "read_at":
                    p = p with { ReadAt = JsonSerializer.Deserialize<int>(ref reader, options) };
                    break;
                case "add_after":
                    p = p with { AddAfter = JsonSerializer.Deserialize<int>(ref reader, options) };
                    break;
                case "replace_ffn":
                    p = p with { ReplaceFfn = JsonSerializer.Deserialize<bool>(ref reader, options) };
                    break;
                default:
                    var kind =
                        SlotKinds.ByBlock(name)
                        ?? throw new JsonException(
                            $"memory_layers entry has unknown property '{name}' (known: kind, read_at, add_after, replace_ffn, "
                                + string.Join(", ", SlotKinds.All.Select(k => k.Block).Distinct())
                                + ")"
                        );
                    if (reader.TokenType == JsonTokenType.Null)
                        break; // null = the kind's defaults
                    if (block is not null)
                        throw new JsonException($"memory_layers entry has two settings blocks, '{block}' and '{name}'");
                    settings = kind.ReadSettings(ref reader, options);
                    block = name;
                    break;
            }
        }
        return p with { Settings = settings };
    }

    public override void Write(Utf8JsonWriter writer, SlotPlacement p, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", p.Kind);
        writer.WriteNumber("read_at", p.ReadAt);
        writer.WriteNumber("add_after", p.AddAfter);
        writer.WriteBoolean("replace_ffn", p.ReplaceFfn);
        if (p.Settings is { } s)
        {
            var kind =
                SlotKinds.Find(p.Kind) is { } own && own.SettingsType == s.GetType()
                    ? own
                    : SlotKinds.BySettings(s.GetType())
                        ?? throw new JsonException($"no registered slot kind takes settings of type {s.GetType().Name}");
            writer.WritePropertyName(kind.Block);
            kind.WriteSettings(writer, s, options);
        }
        writer.WriteEndObject();
    }
}
