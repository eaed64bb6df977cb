namespace UltraMem.Layers;

/// <summary>Settings of a plugged-in <c>swiglu</c> slot: its inner width (JSON: the placement's <c>hidden</c>; null = the model's FFN
/// width).</summary>
public sealed record SwiGluSettings(int? Hidden);
