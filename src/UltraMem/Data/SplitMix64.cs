namespace UltraMem.Data;

/// <summary>
/// SplitMix64 (Steele, Lea &amp; Flood 2014; Vigna's reference constants): a tiny, fast generator whose
/// whole state is one <see cref="ulong"/>, and whose <see cref="Mix"/> finaliser turns any key into
/// well-spread bits, so random choices can be pure functions of their inputs.
/// </summary>
public struct SplitMix64
{
    const ulong Gamma = 0x9E3779B97F4A7C15;
    ulong _state;

    /// <summary>A generator whose first output is <c>Mix(seed + 0x9E3779B97F4A7C15)</c>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        _state += Gamma;
        return Mix(_state);
    }

    /// <summary>A uniform integer in [0, bound), without modulo bias (Lemire's multiply-and-reject).</summary>
    public ulong NextBelow(ulong bound)
    {
        ArgumentOutOfRangeException.ThrowIfZero(bound);
        ulong high = Math.BigMul(Next(), bound, out ulong low);
        if (low < bound)
        {
            ulong threshold = (0 - bound) % bound;
            while (low < threshold)
                high = Math.BigMul(Next(), bound, out low);
        }
        return high;
    }

    /// <summary>The SplitMix64 output function: a bijective 64-bit mixer.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
