using System.Text;

namespace UltraMem.Data;

/// <summary>
/// 64-bit FNV-1a over UTF-8 bytes: a hash that is the same in every process and on every machine
/// (unlike <see cref="string.GetHashCode()"/>, which is randomised per process).
/// </summary>
public static class StableHash
{
    const ulong Offset = 0xCBF29CE484222325,
        Prime = 0x100000001B3;

    /// <summary>FNV-1a 64 of the bytes.</summary>
    public static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        ulong h = Offset;
        foreach (byte b in bytes)
            h = (h ^ b) * Prime;
        return h;
    }

    /// <summary>FNV-1a 64 of the string's UTF-8 encoding.</summary>
    public static ulong Fnv1a64(string text) => Fnv1a64(Encoding.UTF8.GetBytes(text));
}
