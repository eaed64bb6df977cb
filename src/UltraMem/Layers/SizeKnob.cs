namespace UltraMem.Layers;

/// <summary>An integer size of a slot's settings that family matching searches over (the metric must grow with it).</summary>
/// <param name="Get">The current value.</param>
/// <param name="With">The settings with the value changed.</param>
/// <param name="Smallest">The smallest valid value not below <c>from</c> for these settings at width D.</param>
/// <param name="Largest">The upper end of the search.</param>
/// <param name="Step">Search in multiples of this.</param>
public sealed record SizeKnob(
    Func<object, int> Get,
    Func<object, int, object> With,
    Func<object, int, int, int> Smallest,
    int Largest,
    int Step = 1
);
