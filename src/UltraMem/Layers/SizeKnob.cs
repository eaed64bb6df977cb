namespace UltraMem.Layers;

/// <summary>The table size of a slot's settings that family matching searches over (the total parameters must grow with it).</summary>
/// <param name="With">The settings with the size changed.</param>
/// <param name="Smallest">The smallest valid size not below <c>from</c> for these settings at width D.</param>
/// <param name="Largest">The upper end of the search.</param>
public sealed record SizeKnob(Func<object, int, object> With, Func<object, int, int, int> Smallest, int Largest);
