namespace UltraMem.Tests.Structure.ToyKind;

/// <summary>Settings of the toy kind (JSON block <c>toy</c>): a table of <see cref="Rows"/> rows addressed through a rank-<see
/// cref="Rank"/> code.</summary>
public sealed record ToyLookupConfig
{
    public int Rows { get; init; } = 16;
    public int Rank { get; init; } = 4;

    /// <summary>κ of the table's value-lr group (1 = off); null = the rows train like any weight.</summary>
    public double? Kappa { get; init; }
}
