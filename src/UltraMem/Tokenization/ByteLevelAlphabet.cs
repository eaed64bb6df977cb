using System.Text;

namespace UltraMem.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character table: every byte maps to one printable character
/// (printable Latin-1 bytes to themselves, the rest to U+0100..U+0143), so a byte sequence can be
/// written as a string without spaces or control characters (space becomes 'Ġ', newline 'Ċ').
/// </summary>
public static class ByteLevelAlphabet
{
    static readonly char[] ByteToChar = BuildTable();
    static readonly Dictionary<char, byte> CharToByte = BuildInverse();

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char ToChar(byte b) => ByteToChar[b];

    /// <summary>The byte for <paramref name="c"/>, or false when <paramref name="c"/> is not in the alphabet.</summary>
    public static bool TryToByte(char c, out byte b) => CharToByte.TryGetValue(c, out b);

    /// <summary>The alphabet string for a byte sequence.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>The alphabet string for the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static string EncodeUtf8(string text) => Encode(Encoding.UTF8.GetBytes(text));

    /// <summary>The bytes of an alphabet string, or null when it holds a character outside the alphabet.</summary>
    public static byte[]? Decode(string symbols)
    {
        var bytes = new byte[symbols.Length];
        for (int i = 0; i < symbols.Length; i++)
        {
            if (!CharToByte.TryGetValue(symbols[i], out bytes[i]))
                return null;
        }
        return bytes;
    }

    static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    static Dictionary<char, byte> BuildInverse()
    {
        var inverse = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
            inverse.Add(ByteToChar[b], (byte)b);
        return inverse;
    }
}
