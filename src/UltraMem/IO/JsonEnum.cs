using System.ComponentModel;
using System.Reflection;
using System.Text.Json.Serialization;

namespace UltraMem.IO;

/// <summary>
/// Closed sets as C# enums that read and write their snake_case JSON names (<see cref="JsonStringEnumMemberNameAttribute"/> on
/// each member), so config files stay as they were while the code switches over enums, exhaustively. The enum's
/// <see cref="DescriptionAttribute"/> names its config field for messages: <c>query_norm must be one of "layernorm", … (got "rms")</c>.
/// </summary>
public static class JsonEnum
{
    /// <summary>The JSON name of <paramref name="value"/> (its member's <see cref="JsonStringEnumMemberNameAttribute"/>, else its C#
    /// name).</summary>
    public static string Name<T>(T value)
        where T : struct, Enum => Names<T>().TryGetValue(value, out var name) ? name : value.ToString();

    /// <summary>The JSON names of <paramref name="enumType"/>'s members, in declaration order.</summary>
    public static IReadOnlyList<string> Names(Type enumType) =>
        enumType
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name)
            .ToList();

    /// <summary>The config field an enum type is the value of (its <see cref="DescriptionAttribute"/>), for messages.</summary>
    public static string Field(Type enumType) => enumType.GetCustomAttribute<DescriptionAttribute>()?.Description ?? enumType.Name;

    /// <summary>"<c>field must be one of "a", "b" (got "x")</c>".</summary>
    public static string Expected(Type enumType, string got) =>
        $"{Field(enumType)} must be one of {string.Join(", ", Names(enumType).Select(n => $"\"{n}\""))} (got \"{got}\")";

    /// <summary>The member whose JSON name is <paramref name="name"/>; an unknown name is an <see cref="UltraMemException"/> listing the
    /// known ones.</summary>
    public static T Parse<T>(string name)
        where T : struct, Enum => TryParse<T>(name, out var value) ? value : throw new UltraMemException(Expected(typeof(T), name));

    public static bool TryParse<T>(string name, out T value)
        where T : struct, Enum
    {
        foreach (var (member, json) in Names<T>())
            if (json == name)
            {
                value = member;
                return true;
            }
        value = default;
        return false;
    }

    /// <summary>Whether <paramref name="value"/> is a declared member (an enum variable can hold any number).</summary>
    public static bool IsDefined<T>(T value)
        where T : struct, Enum => Enum.IsDefined(value);

    static Dictionary<T, string> Names<T>()
        where T : struct, Enum => Cache<T>.Names;

    static class Cache<T>
        where T : struct, Enum
    {
        public static readonly Dictionary<T, string> Names = typeof(T)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .ToDictionary(f => (T)f.GetValue(null)!, f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name);
    }
}
