using UltraMem.Layers;
using UltraMem.Layers.Memory;
using UltraMem.Layers.Moe;
using UltraMem.Layers.Peer;

namespace UltraMem.Model;

/// <summary>
/// The registry of feed-forward slot kinds: the JSON <c>kind</c> of a placement → its <see cref="SlotKind"/>. One line per
/// kind; a kind defined elsewhere (a plug-in, a test) joins with <see cref="Register"/>.
/// </summary>
public static class SlotKinds
{
    static readonly object Gate = new();
    static readonly List<SlotKind> Registered = new()
    {
        SwiGluKind.Instance,
        MemoryKind.Pkm,
        MemoryKind.UltraMem,
        MemoryKind.UltraMemV2,
        MemoryKind.MemoryPlus,
        MoeKind.Instance,
        PeerKind.Instance,
    };

    /// <summary>Every registered kind, built-in ones first.</summary>
    public static IReadOnlyList<SlotKind> All
    {
        get
        {
            lock (Gate)
                return Registered.ToList();
        }
    }

    /// <summary>The JSON names of the registered kinds.</summary>
    public static IReadOnlyList<string> Names => All.Select(k => k.Name).ToList();

    /// <summary>Adds a kind; its name must be new, and its settings block may only be shared with kinds of the same settings
    /// type.</summary>
    public static void Register(SlotKind kind)
    {
        lock (Gate)
        {
            if (Registered.Any(k => k.Name == kind.Name))
                throw new UltraMemException($"slot kind '{kind.Name}' is already registered");
            if (Registered.FirstOrDefault(k => k.Block == kind.Block && k.SettingsType != kind.SettingsType) is { } other)
                throw new UltraMemException(
                    $"slot kind '{kind.Name}' uses the block '{kind.Block}' of kind '{other.Name}' with another settings type"
                );
            Registered.Add(kind);
        }
    }

    /// <summary>The kind named <paramref name="name"/>, or null.</summary>
    public static SlotKind? Find(string name)
    {
        lock (Gate)
            return Registered.FirstOrDefault(k => k.Name == name);
    }

    /// <summary>The kind named <paramref name="name"/>; an unknown name is an error listing the known ones.</summary>
    public static SlotKind Get(string name) =>
        Find(name) ?? throw new UltraMemException($"unknown memory layer kind '{name}' (known: {string.Join(", ", Names)})");

    /// <summary>A kind whose settings block is called <paramref name="block"/> (the JSON property of a placement), or null.</summary>
    public static SlotKind? ByBlock(string block)
    {
        lock (Gate)
            return Registered.FirstOrDefault(k => k.Block == block);
    }

    /// <summary>A kind whose settings are of type <paramref name="settingsType"/>, or null.</summary>
    public static SlotKind? BySettings(Type settingsType)
    {
        lock (Gate)
            return Registered.FirstOrDefault(k => k.SettingsType == settingsType);
    }
}
