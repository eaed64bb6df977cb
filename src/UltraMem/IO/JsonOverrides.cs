using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace UltraMem.IO;

/// <summary>
/// <c>path=value</c> overrides of settings records that serialise to JSON (the CLI's <c>--set</c>). A path names JSON
/// properties (as the serializer options spell them) separated by dots, with <c>[i]</c> list indices:
/// <c>memory_layers[0].memory.top_m</c>. The value is JSON if it parses as JSON (numbers, <c>true</c>, <c>null</c>, objects,
/// arrays), else a string; a number or <c>true</c>/<c>false</c> given for a string field is taken as its text.
/// Paths are checked against the record's type (<see cref="JsonSerializerOptions.GetTypeInfo(Type)"/>), not only against the
/// JSON, so fields that are null (and therefore not written) can be set too; derived, get-only properties cannot.
/// A nested object that is null is not created: setting a field inside it is refused with a message saying to set the
/// whole object (its other fields would silently take the type's defaults, which need not be what null means).
/// Every error is an <see cref="UltraMemException"/> with a one-line message naming the path.
/// </summary>
public static class JsonOverrides
{
    /// <summary>Splits <c>path=value</c> at the first <c>=</c>; the path must be non-empty, the value may be empty.</summary>
    public static (string Path, string Value) Split(string spec)
    {
        int eq = spec.IndexOf('=');
        if (eq < 0)
            throw new UltraMemException($"'{spec}' has no '=': expected PATH=VALUE, e.g. d_model=192");
        string path = spec[..eq].Trim();
        if (path.Length == 0)
            throw new UltraMemException($"'{spec}' has no path before '=': expected PATH=VALUE, e.g. d_model=192");
        return (path, spec[(eq + 1)..]);
    }

    /// <summary>The JSON names of <paramref name="type"/>'s settable properties, in declaration order.</summary>
    public static IReadOnlyList<string> Names(Type type, JsonSerializerOptions options)
    {
        var info = Info(type, options);
        if (info.Kind != JsonTypeInfoKind.Object)
            return Array.Empty<string>();
        return info.Properties.Where(p => p.Set is not null).Select(p => p.Name).ToList();
    }

    /// <summary>
    /// Which of several records a path addresses: an explicit <c>name.</c> prefix (e.g. <c>train.seed</c>) picks that root,
    /// otherwise the one root whose settable top-level names include the path's first name. Returns the root's index and the
    /// path without the prefix. Throws when no root has the name (listing every root's names) or more than one has it.
    /// </summary>
    public static (int Root, string Path) Route(string path, IReadOnlyList<(string Name, Type Type)> roots, JsonSerializerOptions options)
    {
        for (int i = 0; i < roots.Count; i++)
            if (path.StartsWith(roots[i].Name + ".", StringComparison.Ordinal))
                return (i, path[(roots[i].Name.Length + 1)..]);
        var first = ParsePath(path)[0].Name!;
        var hits = Enumerable.Range(0, roots.Count).Where(i => Names(roots[i].Type, options).Contains(first)).ToList();
        if (hits.Count == 1)
            return (hits[0], path);
        if (hits.Count > 1)
            throw new UltraMemException(
                $"'{first}' is a field of {string.Join(" and ", hits.Select(i => roots[i].Name))}; "
                    + $"prefix it: {string.Join(" or ", hits.Select(i => $"{roots[i].Name}.{path}"))}"
            );
        throw new UltraMemException(
            $"unknown setting '{first}' ("
                + string.Join("; ", roots.Select(r => $"{r.Name}: {string.Join(", ", Names(r.Type, options))}"))
                + ")"
        );
    }

    /// <summary>
    /// Sets the value at <paramref name="path"/> in <paramref name="root"/>, the JSON of a <paramref name="rootType"/> written with
    /// <paramref name="options"/>. The value is checked against the target's type; whole-record validation is left to the caller,
    /// which deserialises the tree once all overrides are in. <paramref name="members"/> gives the field types of objects that a
    /// custom converter writes (type, JSON name → field type, or null for no such field), which reflection cannot see.
    /// </summary>
    public static void Set(
        JsonNode root,
        Type rootType,
        string path,
        string value,
        JsonSerializerOptions options,
        Func<Type, string, Type?>? members = null
    )
    {
        var segments = ParsePath(path);
        JsonNode current = root;
        Type type = rootType;
        string at = ""; // the path walked so far, for messages
        for (int s = 0; s < segments.Count; s++)
        {
            var (name, index) = segments[s];
            bool last = s == segments.Count - 1;
            var info = Info(type, options);
            string here = name is not null ? (at.Length == 0 ? name : $"{at}.{name}") : $"{at}[{index}]";
            Type childType;
            bool nullable;
            if (name is not null)
            {
                if (info.Kind == JsonTypeInfoKind.Enumerable)
                    throw new UltraMemException($"{at} is a list: index it first, e.g. {at}[0].{name}");
                if (info.Kind == JsonTypeInfoKind.None && current is JsonObject custom && members is not null)
                { // an object written by a custom converter: its fields are what the converter writes
                    childType =
                        members(type, name)
                        ?? throw new UltraMemException(
                            $"unknown field '{name}' in {at} (present: {string.Join(", ", custom.Select(kv => kv.Key))})"
                        );
                    nullable = !childType.IsValueType || Nullable.GetUnderlyingType(childType) is not null;
                    if (last)
                    {
                        custom[name] = ParseValue(value, childType, nullable, here, options);
                        return;
                    }
                    current = custom[name] ?? throw Absent(here, segments, s + 1, value);
                    type = childType;
                    at = here;
                    continue;
                }
                if (info.Kind != JsonTypeInfoKind.Object || current is not JsonObject obj)
                    throw new UltraMemException($"{at} is {Describe(type)}, not an object: it has no field '{name}'");
                var prop = info.Properties.FirstOrDefault(p => p.Name == name);
                if (prop is null || prop.Set is null)
                {
                    string where = at.Length == 0 ? "" : $" in {at}";
                    if (prop is not null)
                        throw new UltraMemException($"'{name}'{where} is derived from other fields and cannot be set");
                    throw new UltraMemException($"unknown field '{name}'{where} (valid: {string.Join(", ", Names(type, options))})");
                }
                childType = prop.PropertyType;
                nullable = prop.IsSetNullable;
                if (last)
                {
                    obj[name] = ParseValue(value, childType, nullable, here, options);
                    return;
                }
                current = obj[name] ?? throw Absent(here, segments, s + 1, value);
            }
            else
            {
                if (info.Kind != JsonTypeInfoKind.Enumerable || current is not JsonArray array)
                    throw new UltraMemException($"{at} is {Describe(type)}, not a list: it cannot be indexed with [{index}]");
                if (index < 0 || index >= array.Count)
                    throw new UltraMemException(
                        $"index {index} in {here} is out of range: {at} has {array.Count} element{(array.Count == 1 ? "" : "s")}"
                    );
                childType = info.ElementType!;
                nullable = Nullable.GetUnderlyingType(childType) is not null;
                if (last)
                {
                    array[index!.Value] = ParseValue(value, childType, nullable, here, options);
                    return;
                }
                current = array[index!.Value] ?? throw Absent(here, segments, s + 1, value);
            }
            type = childType;
            at = here;
        }
    }

    /// <summary>A path as (name, null) and (null, index) segments; the first is always a name.</summary>
    static List<(string? Name, int? Index)> ParsePath(string path)
    {
        var segments = new List<(string? Name, int? Index)>();
        UltraMemException Bad(string why) =>
            new($"bad path '{path}': {why} (expected names separated by '.', with list indices like memory_layers[0].memory.top_m)");
        int i = 0;
        while (i < path.Length)
        {
            if (path[i] == '[')
            {
                int close = path.IndexOf(']', i);
                if (segments.Count == 0)
                    throw Bad("it starts with an index");
                if (close < 0)
                    throw Bad("'[' without ']'");
                string digits = path[(i + 1)..close];
                if (digits.Length == 0 || !digits.All(char.IsAsciiDigit) || !int.TryParse(digits, out int index))
                    throw Bad($"'[{digits}]' is not a list index");
                segments.Add((null, index));
                i = close + 1;
                if (i < path.Length && path[i] is not ('.' or '['))
                    throw Bad($"'{path[i]}' after ']'");
                if (i < path.Length && path[i] == '.')
                {
                    i++;
                    if (i == path.Length)
                        throw Bad("it ends with '.'");
                }
            }
            else
            {
                int end = path.IndexOfAny(['.', '[', ']'], i);
                if (end < 0)
                    end = path.Length;
                if (end == i)
                    throw Bad("an empty name");
                if (end < path.Length && path[end] == ']')
                    throw Bad("']' without '['");
                segments.Add((path[i..end], null));
                i = end;
                if (i < path.Length && path[i] == '.')
                {
                    i++;
                    if (i == path.Length)
                        throw Bad("it ends with '.'");
                }
            }
        }
        if (segments.Count == 0)
            throw Bad("it is empty");
        return segments;
    }

    /// <summary>The value text as a JSON node checked against <paramref name="type"/>: JSON if it parses, else a string.</summary>
    static JsonNode? ParseValue(string text, Type type, bool nullable, string path, JsonSerializerOptions options)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(
                text,
                documentOptions: new JsonDocumentOptions
                {
                    AllowTrailingCommas = options.AllowTrailingCommas,
                    CommentHandling =
                        options.ReadCommentHandling == JsonCommentHandling.Disallow
                            ? JsonCommentHandling.Disallow
                            : JsonCommentHandling.Skip,
                }
            );
        }
        catch (JsonException e)
        {
            string t = text.TrimStart();
            if (t.StartsWith('{') || t.StartsWith('['))
                throw new UltraMemException(
                    $"the value for {path} is not valid JSON ({Clean(e.Message)}); " + "quote it for the shell, e.g. 'path={\"n_keys\":64}'"
                );
            node = JsonValue.Create(text);
        }
        bool isString = type == typeof(string);
        if (isString && node is JsonValue v && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
            node = JsonValue.Create(text.Trim()); // corpus=2024, value_updates=true: the text as typed
        if (node is null && !nullable && !type.IsValueType) // value types: the serializer refuses null below
            throw new UltraMemException($"{path} cannot be null (it takes {Describe(type)})");
        var kind = Info(type, options).Kind;
        try
        {
            JsonSerializer.Deserialize(node, type, options);
        }
        catch (JsonException e)
        {
            string got = node?.ToJsonString() ?? "null";
            if (node is JsonObject or JsonArray && kind is JsonTypeInfoKind.Object or JsonTypeInfoKind.Enumerable)
                throw new UltraMemException($"{path} cannot take {got}: {Clean(e.Message)}");
            throw new UltraMemException($"{path} takes {Describe(type)} (got {got})");
        }
        return node;
    }

    /// <summary>The error for a path that goes through a null object or list element.</summary>
    static UltraMemException Absent(string here, List<(string? Name, int? Index)> segments, int next, string value)
    {
        bool oneField = next == segments.Count - 1 && segments[next].Name is not null;
        string json = IsJson(value) ? value : JsonValue.Create(value)!.ToJsonString();
        string example = oneField ? $"{{\"{segments[next].Name}\":{json}}}" : "{...}";
        return new UltraMemException(
            $"{here} is null, so a field inside it cannot be set alone; set the whole object, "
                + $"e.g. '{here}={example}' (fields left out take the type's defaults, which may differ from what null stands for)"
        );
    }

    static bool IsJson(string text)
    {
        try
        {
            JsonNode.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The serializer's contract for <paramref name="type"/> (nullable value types unwrapped).</summary>
    static JsonTypeInfo Info(Type type, JsonSerializerOptions options)
    {
        if (!options.IsReadOnly)
            options.MakeReadOnly(populateMissingResolver: true); // as the first (de)serialisation would
        return options.GetTypeInfo(Nullable.GetUnderlyingType(type) ?? type);
    }

    /// <summary>A type in words for messages: "an integer", "a number or null", "a JSON object", ….</summary>
    static string Describe(Type type)
    {
        var inner = Nullable.GetUnderlyingType(type);
        if (inner is not null)
            return Describe(inner) + " or null";
        if (type == typeof(string))
            return "a string";
        if (type == typeof(bool))
            return "true or false";
        if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte))
            return "an integer";
        if (type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort))
            return "a non-negative integer";
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
            return "a number";
        if (type.IsEnum)
            return "one of " + string.Join(", ", JsonEnum.Names(type));
        if (typeof(System.Collections.IEnumerable).IsAssignableFrom(type))
            return "a JSON array";
        return "a JSON object";
    }

    /// <summary>
    /// A serializer message without its line/byte position: "The JSON value could not be converted to System.Int32. Path: $.top_m".
    /// </summary>
    static string Clean(string message)
    {
        string line = message.Split('\n')[0].Trim();
        foreach (var marker in new[] { " | LineNumber", " LineNumber:" })
            if (line.IndexOf(marker, StringComparison.Ordinal) is var cut and >= 0)
                line = line[..cut];
        return line.TrimEnd('.', ' ', '|');
    }
}
