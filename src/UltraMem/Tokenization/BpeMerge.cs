namespace UltraMem.Tokenization;

/// <summary>One merge rule: the adjacent tokens <see cref="Left"/> and <see cref="Right"/> become <see cref="Result"/>.</summary>
public readonly record struct BpeMerge(string Left, string Right)
{
    /// <summary>The merged token string.</summary>
    public string Result => Left + Right;

    /// <summary>The merges.txt form, "Left Right".</summary>
    public override string ToString() => $"{Left} {Right}";
}
