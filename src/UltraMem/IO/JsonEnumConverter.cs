using System.Text.Json;
using System.Text.Json.Serialization;

namespace UltraMem.IO;

/// <summary>Reads and writes an enum as its JSON name (<see cref="JsonEnum"/>); an unknown name is a <see cref="JsonException"/> listing
/// the known ones.</summary>
public sealed class JsonEnumConverter<T> : JsonConverter<T>
    where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new JsonException(JsonEnum.Expected(typeof(T), reader.TokenType.ToString().ToLowerInvariant()));
        string name = reader.GetString()!;
        return JsonEnum.TryParse<T>(name, out var value) ? value : throw new JsonException(JsonEnum.Expected(typeof(T), name));
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(JsonEnum.Name(value));
}
