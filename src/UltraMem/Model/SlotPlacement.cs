using System.Text.Json.Serialization;
using UltraMem.Layers;
using UltraMem.Layers.Memory;
using UltraMem.Layers.Moe;
using UltraMem.Layers.Peer;

namespace UltraMem.Model;

/// <summary>
/// Where an extra feed-forward-shaped layer (a memory layer, or any <see cref="FeedForwardSlot"/>) sits in the decoder, and
/// its settings. It reads the normalised FFN input of block <see cref="ReadAt"/> and its output is added to the residual
/// stream after block <see cref="AddAfter"/>:
/// <list type="bullet">
/// <item><c>read_at == add_after</c>, <c>replace_ffn = false</c>: parallel to that block's FFN, <c>h + FFN(x) + Mem(x)</c>;</item>
/// <item><c>read_at == add_after</c>, <c>replace_ffn = true</c>: replaces that block's FFN;</item>
/// <item><c>read_at &lt; add_after</c>: the skip-layer form <c>a:b</c> of UltraMem (arXiv:2411.12364; docs/memory-layers.md).</item>
/// </list>
/// In JSON: <c>{"kind": …, "read_at": …, "add_after": …, "replace_ffn": …, BLOCK: settings}</c>, where the kind
/// (<see cref="SlotKinds"/>) names its settings block (<c>memory</c>, <c>moe</c>, <c>peer</c>, or <c>hidden</c> for <c>swiglu</c>).
/// </summary>
[JsonConverter(typeof(SlotPlacementJson))]
public sealed record SlotPlacement
{
    /// <summary>The layer kind, a name in <see cref="SlotKinds"/>: <c>swiglu</c>, <c>pkm</c>, <c>ultramem</c>, <c>ultramemv2</c>,
    /// <c>memory_plus</c>, <c>moe</c>, <c>peer</c>.</summary>
    public string Kind { get; init; } = "swiglu";
    public int ReadAt { get; init; }
    public int AddAfter { get; init; }
    public bool ReplaceFfn { get; init; }

    /// <summary>
    /// The kind's settings (its <see cref="SlotKind.SettingsType"/>: <see cref="MemoryConfig"/>, <see cref="MoeConfig"/>,
    /// <see cref="PeerConfig"/>, <see cref="SwiGluSettings"/>, …); null = the kind's defaults, filled in by
    /// <see cref="ModelConfig.Resolve"/>.
    /// </summary>
    public object? Settings { get; init; }

    // Typed views of Settings for the built-in kinds (setting one replaces the settings).

    /// <summary>Hidden width of a <c>swiglu</c> slot; null = the model's FFN width.</summary>
    public int? Hidden
    {
        get => (Settings as SwiGluSettings)?.Hidden;
        init => Settings = value is null ? null : new SwiGluSettings(value);
    }

    /// <summary>Settings of a memory layer (<c>pkm</c>, <c>ultramem</c>, <c>ultramemv2</c>, <c>memory_plus</c>).</summary>
    public MemoryConfig? Memory
    {
        get => Settings as MemoryConfig;
        init => Settings = value;
    }

    /// <summary>Settings of a <c>moe</c> layer.</summary>
    public MoeConfig? Moe
    {
        get => Settings as MoeConfig;
        init => Settings = value;
    }

    /// <summary>Settings of a <c>peer</c> layer.</summary>
    public PeerConfig? Peer
    {
        get => Settings as PeerConfig;
        init => Settings = value;
    }

    /// <summary>"a", "a!" or "a:b" for this placement.</summary>
    public string Where =>
        ReplaceFfn ? $"replaces FFN {ReadAt}"
        : ReadAt == AddAfter ? $"parallel {ReadAt}"
        : $"{ReadAt}:{AddAfter}";

    /// <summary>Parses the reference syntax <c>"a:b"</c>, <c>"a"</c> (parallel) or <c>"a!"</c> (replace FFN of block a).</summary>
    public static SlotPlacement Parse(string spec, string kind)
    {
        string s = spec.Trim();
        bool replace = s.EndsWith('!');
        if (replace)
            s = s[..^1];
        string[] parts = s.Split(':');
        if (parts.Length is < 1 or > 2 || !parts.All(p => int.TryParse(p, out _)))
            throw new UltraMemException(
                $"bad placement '{spec}': expected 'a', 'a!' (replace FFN) or 'a:b' (read at block a, add after block b)"
            );
        int a = int.Parse(parts[0]),
            b = parts.Length == 2 ? int.Parse(parts[1]) : a;
        if (replace && a != b)
            throw new UltraMemException($"bad placement '{spec}': replace ('!') only applies to a single block");
        return new SlotPlacement
        {
            Kind = kind,
            ReadAt = a,
            AddAfter = b,
            ReplaceFfn = replace,
        };
    }
}
