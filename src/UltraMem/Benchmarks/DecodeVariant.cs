using UltraMem.Model;

namespace UltraMem.Benchmarks;

/// <summary>One model measured by the decode benchmark: an architecture of a matched family, at a sparse-parameter scale.</summary>
/// <param name="Name">Label in tables and plots (e.g. <c>moe</c>, <c>ultramem x16</c>).</param>
/// <param name="Arch">Family member (<see cref="Architectures.Families.Members"/>).</param>
/// <param name="Scale">Sparse parameters as a multiple of the matched family's (1 in <c>bench decode</c>).</param>
public sealed record DecodeVariant(string Name, string Arch, int Scale, ModelConfig Config);
