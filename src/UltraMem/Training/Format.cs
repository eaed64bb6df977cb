namespace UltraMem.Training;

/// <summary>Human-readable numbers.</summary>
public static class Format
{
    public static string Count(long n) =>
        n switch
        {
            >= 1_000_000_000 => $"{n / 1e9:0.##}B",
            >= 1_000_000 => $"{n / 1e6:0.##}M",
            >= 1_000 => $"{n / 1e3:0.#}k",
            _ => n.ToString(),
        };
}
